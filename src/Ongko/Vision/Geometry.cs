namespace Ongko.Vision;

/// <summary>Geometric warps on float planes.</summary>
public static class Geometry
{
    /// <summary>
    /// Rotates a plane by <paramref name="degrees"/> (counter-clockwise, as OpenCV's
    /// getRotationMatrix2D + warpAffine) about its centre, bilinear, zero outside the source.
    /// source, destination: [height, width], distinct buffers.
    /// </summary>
    public static void Rotate(ReadOnlySpan<float> source, Span<float> destination, int height, int width, double degrees)
    {
        double radians = degrees * Math.PI / 180.0;
        float cos = (float)Math.Cos(radians), sin = (float)Math.Sin(radians);
        float cx = (width - 1) * 0.5f, cy = (height - 1) * 0.5f;
        for (int y = 0; y < height; y++)
        {
            float dy = y - cy;
            // Inverse map: a destination pixel samples the source rotated back by the angle.
            float baseX = cx - sin * dy, baseY = cy + cos * dy;
            var outRow = destination.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                float dx = x - cx;
                float sx = baseX + cos * dx, sy = baseY + sin * dx;
                int x0 = (int)MathF.Floor(sx), y0 = (int)MathF.Floor(sy);
                float fx = sx - x0, fy = sy - y0;
                outRow[x] = (1 - fy) * ((1 - fx) * At(source, height, width, y0, x0) + fx * At(source, height, width, y0, x0 + 1))
                          + fy * ((1 - fx) * At(source, height, width, y0 + 1, x0) + fx * At(source, height, width, y0 + 1, x0 + 1));
            }
        }
    }

    static float At(ReadOnlySpan<float> plane, int height, int width, int y, int x)
        => (uint)y < (uint)height && (uint)x < (uint)width ? plane[y * width + x] : 0f;
}
