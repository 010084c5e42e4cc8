using System.Buffers;

namespace Ongko.Vision;

/// <summary>One connected region: its bounding box and pixel count (a row of OpenCV's connectedComponentsWithStats).</summary>
public readonly record struct Region(int Label, PixelBox Box, int Area);

/// <summary>Connected regions of a binary mask (8-connectivity, like OpenCV's connectedComponents default).</summary>
public static class Components
{
    /// <summary>
    /// Labels the 8-connected regions of non-zero pixels: <paramref name="labels"/> [height, width] receives 0 on
    /// background and 1, 2, ... on the regions, numbered in row-major order of their first pixel (OpenCV's
    /// connectedComponentsWithStats finds the same regions, numbered nearly so). Returns one <see cref="Region"/> per label, in label order.
    /// </summary>
    public static List<Region> Label(ReadOnlySpan<byte> mask, int height, int width, Span<int> labels)
    {
        int pixels = height * width;
        if (mask.Length < pixels || labels.Length < pixels) throw new ArgumentException("buffer shorter than the image");
        int[] stack = ArrayPool<int>.Shared.Rent(pixels);
        labels.Slice(0, pixels).Clear();
        var regions = new List<Region>();
        for (int seed = 0; seed < pixels; seed++)
        {
            if (mask[seed] == 0 || labels[seed] != 0) continue;
            int label = regions.Count + 1;
            int area = 0, top = 0, x0 = width, y0 = height, x1 = -1, y1 = -1;
            stack[top++] = seed; labels[seed] = label;
            while (top > 0)
            {
                int p = stack[--top];
                int py = p / width, px = p - py * width;
                area++;
                if (px < x0) x0 = px; if (px > x1) x1 = px;
                if (py < y0) y0 = py; if (py > y1) y1 = py;
                for (int dy = -1; dy <= 1; dy++)
                {
                    int ny = py + dy;
                    if ((uint)ny >= (uint)height) continue;
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = px + dx;
                        if ((uint)nx >= (uint)width) continue;
                        int q = ny * width + nx;
                        if (mask[q] != 0 && labels[q] == 0) { labels[q] = label; stack[top++] = q; }
                    }
                }
            }
            regions.Add(new Region(label, new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1), area));
        }
        ArrayPool<int>.Shared.Return(stack);
        return regions;
    }

    /// <summary>
    /// The bounding box of the largest 8-connected region of non-zero pixels, or null when the mask is
    /// empty. Ties go to the region met first in row-major order. When <paramref name="regionMask"/> is
    /// given, it receives 255 on that region's pixels and 0 elsewhere.
    /// </summary>
    public static PixelBox? LargestRegion(ReadOnlySpan<byte> mask, int height, int width, Span<byte> regionMask = default)
    {
        int pixels = height * width;
        int[] labels = ArrayPool<int>.Shared.Rent(pixels);
        var regions = Label(mask, height, width, labels);
        Region? best = null;
        foreach (var region in regions)
            if (best is null || region.Area > best.Value.Area) best = region;
        if (!regionMask.IsEmpty && best is { } chosen)
            for (int i = 0; i < pixels; i++) regionMask[i] = labels[i] == chosen.Label ? (byte)255 : (byte)0;
        ArrayPool<int>.Shared.Return(labels);
        return best?.Box;
    }

    /// <summary>
    /// Pixels on the outline of a region: set pixels with an unset 4-neighbour (or on the image edge),
    /// as flat indices y * width + x.
    /// </summary>
    public static int[] Outline(ReadOnlySpan<byte> regionMask, int height, int width)
    {
        var outline = new List<int>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                if (regionMask[i] == 0) continue;
                if (x == 0 || y == 0 || x == width - 1 || y == height - 1
                    || regionMask[i - 1] == 0 || regionMask[i + 1] == 0 || regionMask[i - width] == 0 || regionMask[i + width] == 0)
                    outline.Add(i);
            }
        return outline.ToArray();
    }
}
