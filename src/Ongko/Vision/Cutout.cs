using Ongko.Tensors;

namespace Ongko.Vision;

/// <summary>
/// Contour cutout: small black squares cut at random points on the digit's outline, so the model
/// learns from broken strokes. As the reference does, it runs on the full image before the crop.
/// </summary>
public static class Cutout
{
    /// <summary>
    /// Cuts between min(2, maxSquares) and maxSquares squares (count uniform) centred on randomly chosen outline
    /// pixels (flat indices into a [height, width] plane). Each square's side is 4% of the image side
    /// (at least 2 pixels); squares that would cross the image edge are skipped, as in the reference.
    /// Returns how many squares were cut.
    /// </summary>
    public static int Apply(ByteImage image, ReadOnlySpan<int> outline, int maxSquares, Rng rng)
    {
        if (outline.IsEmpty || maxSquares < 1) return 0;
        int low = Math.Min(2, maxSquares);
        int count = low + rng.NextInt(maxSquares - low + 1);
        int halfHeight = Math.Max(1, (int)Math.Round(image.Height * 0.02)), halfWidth = Math.Max(1, (int)Math.Round(image.Width * 0.02));
        int cut = 0;
        for (int n = 0; n < count; n++)
        {
            int point = outline[rng.NextInt(outline.Length)];
            int y = point / image.Width, x = point % image.Width;
            if (x - halfWidth < 0 || x + halfWidth > image.Width || y - halfHeight < 0 || y + halfHeight > image.Height) continue;
            for (int c = 0; c < image.Channels; c++)
            {
                var plane = image.Plane(c);
                for (int row = y - halfHeight; row < y + halfHeight; row++)
                    plane.Slice(row * image.Width + x - halfWidth, 2 * halfWidth).Clear();
            }
            cut++;
        }
        return cut;
    }
}
