namespace Ongko.Vision;

/// <summary>
/// A forward 2x3 affine map in pixel-index coordinates (x right, y down, pixel centres at integers), the matrix
/// OpenCV's warpAffine takes: a source pixel at (x, y) lands at (M00·x + M01·y + M02, M10·x + M11·y + M12).
/// </summary>
public readonly record struct AffineMatrix(double M00, double M01, double M02, double M10, double M11, double M12)
{
    public static AffineMatrix Identity => new(1, 0, 0, 0, 1, 0);

    /// <summary>
    /// Rotation about the image centre ((width-1)/2, (height-1)/2) by <paramref name="degrees"/>, counter-clockwise
    /// on screen for a positive angle: OpenCV's getRotationMatrix2D(centre, degrees, 1).
    /// </summary>
    public static AffineMatrix Rotation(int height, int width, double degrees)
        => TorchVision(height, width, -degrees, 0, 0, 1, 0, 0);

    /// <summary>
    /// torchvision's affine (transforms.functional.affine, its _get_inverse_affine_matrix before inversion):
    /// M = T · C · R(angle) · S(scale) · SHy(shearY) · SHx(shearX) · C⁻¹ about the centre C = ((width-1)/2, (height-1)/2).
    /// <paramref name="angle"/> is clockwise on screen for a positive value (torchvision's sign, the opposite of
    /// <see cref="Rotation"/>); translations are in pixels; shears in degrees (x shear moves rows sideways).
    /// </summary>
    public static AffineMatrix TorchVision(int height, int width, double angle, double translateX, double translateY,
        double scale, double shearX, double shearY)
    {
        double cx = (width - 1) * 0.5, cy = (height - 1) * 0.5;
        double rotation = angle * Math.PI / 180, sx = shearX * Math.PI / 180, sy = shearY * Math.PI / 180;
        double a = Math.Cos(rotation - sy) / Math.Cos(sy);
        double b = -Math.Cos(rotation - sy) * Math.Tan(sx) / Math.Cos(sy) - Math.Sin(rotation);
        double c = Math.Sin(rotation - sy) / Math.Cos(sy);
        double d = -Math.Sin(rotation - sy) * Math.Tan(sx) / Math.Cos(sy) + Math.Cos(rotation);
        a *= scale; b *= scale; c *= scale; d *= scale;
        return new(a, b, cx + translateX - a * cx - b * cy, c, d, cy + translateY - c * cx - d * cy);
    }

    /// <summary>This map followed by <paramref name="next"/> (next ∘ this).</summary>
    public AffineMatrix Then(AffineMatrix next) => new(
        next.M00 * M00 + next.M01 * M10, next.M00 * M01 + next.M01 * M11, next.M00 * M02 + next.M01 * M12 + next.M02,
        next.M10 * M00 + next.M11 * M10, next.M10 * M01 + next.M11 * M11, next.M10 * M02 + next.M11 * M12 + next.M12);

    /// <summary>The inverse map; throws when the matrix is singular.</summary>
    public AffineMatrix Inverse()
    {
        double determinant = M00 * M11 - M01 * M10;
        if (determinant == 0 || !double.IsFinite(determinant)) throw new ArgumentException($"the affine matrix {this} cannot be inverted");
        double i00 = M11 / determinant, i01 = -M01 / determinant, i10 = -M10 / determinant, i11 = M00 / determinant;
        return new(i00, i01, -(i00 * M02 + i01 * M12), i10, i11, -(i10 * M02 + i11 * M12));
    }
}

/// <summary>Geometric warps on float planes.</summary>
public static class Geometry
{
    /// <summary>
    /// Rotates a plane by <paramref name="degrees"/> (counter-clockwise, as OpenCV's
    /// getRotationMatrix2D + warpAffine) about its centre, bilinear, zero outside the source.
    /// source, destination: [height, width], distinct buffers.
    /// </summary>
    public static void Rotate(ReadOnlySpan<float> source, Span<float> destination, int height, int width, double degrees)
        => WarpAffine(source, destination, height, width, AffineMatrix.Rotation(height, width, degrees));

    /// <summary>
    /// destination = source moved by the forward map <paramref name="matrix"/> (as cv2.warpAffine with INTER_LINEAR,
    /// BORDER_CONSTANT 0, but with exact rather than 1/32-pixel sample positions): each destination pixel samples the
    /// source bilinearly at the inverse-mapped point; neighbours outside the source count as 0.
    /// source, destination: [height, width], distinct buffers. Allocates nothing.
    /// </summary>
    public static void WarpAffine(ReadOnlySpan<float> source, Span<float> destination, int height, int width, in AffineMatrix matrix)
    {
        if (source.Length < height * width || destination.Length < height * width) throw new ArgumentException("a plane is shorter than height x width");
        var inverse = matrix.Inverse();
        float i00 = (float)inverse.M00, i10 = (float)inverse.M10;
        for (int y = 0; y < height; y++)
        {
            // The source point of (0, y); each step right adds (i00, i10).
            double rowX = inverse.M01 * y + inverse.M02, rowY = inverse.M11 * y + inverse.M12;
            var outRow = destination.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                float sx = (float)rowX + i00 * x, sy = (float)rowY + i10 * x;
                // Far outside (also NaN-safe): nothing to sample.
                if (!(sx > -1 && sx < width && sy > -1 && sy < height)) { outRow[x] = 0; continue; }
                int x0 = (int)MathF.Floor(sx), y0 = (int)MathF.Floor(sy);
                float fx = sx - x0, fy = sy - y0;
                float topLeft, topRight, bottomLeft, bottomRight;
                if ((uint)x0 < (uint)(width - 1) && (uint)y0 < (uint)(height - 1))
                {
                    int i = y0 * width + x0;
                    topLeft = source[i]; topRight = source[i + 1];
                    bottomLeft = source[i + width]; bottomRight = source[i + width + 1];
                }
                else
                {
                    topLeft = At(source, height, width, y0, x0); topRight = At(source, height, width, y0, x0 + 1);
                    bottomLeft = At(source, height, width, y0 + 1, x0); bottomRight = At(source, height, width, y0 + 1, x0 + 1);
                }
                outRow[x] = (1 - fy) * ((1 - fx) * topLeft + fx * topRight) + fy * ((1 - fx) * bottomLeft + fx * bottomRight);
            }
        }
    }

    static float At(ReadOnlySpan<float> plane, int height, int width, int y, int x)
        => (uint)y < (uint)height && (uint)x < (uint)width ? plane[y * width + x] : 0f;
}
