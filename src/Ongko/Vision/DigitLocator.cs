namespace Ongko.Vision;

/// <summary>What <see cref="DigitLocator.Normalize"/> found: the model-sized picture and where it came from.</summary>
public sealed class LocatedDigit
{
    /// <summary>One grey plane of the requested size: the digit light on black, its box centred with a margin, aspect kept.</summary>
    public required ByteImage Image { get; init; }
    /// <summary>False when no ink was found: <see cref="Image"/> is then the whole image, flattened and resized.</summary>
    public bool Found { get; init; }
    /// <summary>The digit's box in the input image's pixels (the whole image when nothing was found).</summary>
    public PixelBox Box { get; init; }
    /// <summary>True when the ink was darker than its background (and was inverted).</summary>
    public bool DarkInk { get; init; }
}

/// <summary>
/// Finds the one digit in any picture and normalises it to what the models see: light strokes on black, the
/// digit's box centred with a fixed margin, aspect ratio kept, stroke contrast stretched to full range.
/// Steps, each an operation checked against OpenCV where OpenCV has it:
/// <list type="number">
/// <item>grey (luma) plane; pictures larger than <see cref="WorkingSide"/> are area-shrunk for the search;</item>
/// <item>polarity per image: the side of the local-mean residual (<see cref="Intensity.BoxMean"/>) with the heavier
///   tail beyond three robust deviations is the ink (paper texture and noise are symmetric, ink is not);</item>
/// <item>illumination: the picture made dark-ink-on-light, its paper estimated by a closing with a kernel a third of
///   the picture (wider than any stroke) and divided out (<see cref="Intensity.Divide"/>), then inverted: ink map;</item>
/// <item>threshold: Otsu, but at least 35 % of the strongest (3x3-averaged) ink and an absolute floor, so paper grain
///   and JPEG ringing stay below it (photo-sized pictures: of the 3x3-averaged ink map); 8-connected regions;</item>
/// <item>the digit: the largest region (half weight when it touches the border; a tenth for solid patches in photos),
///   then every region of at least 3 % of its area within a quarter of the growing box's size, until nothing more
///   joins; specks and far marks are dropped;</item>
/// <item>for shrunk pictures the search is repeated on the full-resolution neighbourhood of that box;</item>
/// <item>crop a square (the model's aspect) around the box with <see cref="Margin"/> on each side, ink outside the
///   digit's (slightly grown) regions zeroed, contrast stretched (threshold/2 → 0, 90th percentile of the ink → 255),
///   area resize to the model size.</item>
/// </list>
/// Thread-safe (no shared state).
/// </summary>
public static class DigitLocator
{
    /// <summary>Longest side the search runs at; larger pictures are shrunk for it.</summary>
    public const int WorkingSide = 256;
    /// <summary>Free space on each side of the digit's box, as a fraction of its longer side.</summary>
    public const double Margin = 0.2;
    /// <summary>Weakest ink (0-255, after flattening) that counts as a digit.</summary>
    public const int MinimumContrast = 40;
    /// <summary>Pictures with both sides at least this long are treated as photos: smoothed before the threshold, solid
    /// patches (shadows, smudges) passed over when choosing the digit. Smaller ones (data set crops) are not.</summary>
    public const int PhotoSide = 64;

    /// <summary>
    /// The digit in <paramref name="image"/> (any size, 1 or 3 planes) as a <paramref name="height"/> x
    /// <paramref name="width"/> grey image, light on black.
    /// </summary>
    public static LocatedDigit Normalize(ByteImage image, int height, int width)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"output size {height}x{width} is empty");
        var buffers = Buffers.ForThread();
        int h = image.Height, w = image.Width;
        // One plane is read where it is (nothing here writes the input); colour is made grey into a buffer.
        byte[] grey = image.Channels == 1 && image.Data.Length == h * w ? image.Data : image.ToGrey();
        var (work, workHeight, workWidth, scale) = Shrink(grey, h, w, WorkingSide);
        var analysis = Analyze(work, workHeight, workWidth, darkInk: null, buffers, buffers.First);
        PixelBox box = analysis.Found ? ToSource(analysis.Box, scale, h, w) : new PixelBox(0, 0, w, h);
        if (analysis.Found && scale > 1)
        {
            // Again on the full-resolution neighbourhood, shrunk to a few times the model size.
            var around = box.Grow(Math.Max(box.Width, box.Height) / 3 + 2, h, w);
            byte[] region = Crop(grey, w, around);
            int side = Math.Max(64, 4 * Math.Max(height, width));
            var (detail, detailHeight, detailWidth, detailScale) = Shrink(region, around.Height, around.Width, side);
            var refined = Analyze(detail, detailHeight, detailWidth, analysis.DarkInk, buffers, buffers.Second);
            if (refined.Found)
            {
                analysis = refined;
                var inner = ToSource(refined.Box, detailScale, around.Height, around.Width);
                box = new PixelBox(inner.X + around.X, inner.Y + around.Y, inner.Width, inner.Height);
            }
        }
        return new LocatedDigit { Image = Render(analysis, height, width, buffers), Found = analysis.Found, Box = box, DarkInk = analysis.DarkInk };
    }

    /// <summary>
    /// Work buffers of one thread, grown to the largest picture seen and reused, so that locating a digit allocates little
    /// more than its result. <see cref="First"/> and <see cref="Second"/> hold what an analysis keeps for <see cref="Render"/>
    /// (the search, and the refinement on the full-resolution neighbourhood of a shrunk picture).
    /// </summary>
    sealed class Buffers
    {
        public byte[] Mean = [], Background = [], Smooth = [], Mask = [], Near = [], Stretched = [], Crop = [];
        public int[] Labels = [];
        public readonly AnalysisBuffers First = new(), Second = new();

        [ThreadStatic] static Buffers? current;
        public static Buffers ForThread() => current ??= new Buffers();
    }

    sealed class AnalysisBuffers
    {
        public byte[] Paper = [], Ink = [], Selected = [];
    }

    /// <summary><paramref name="buffer"/> with room for <paramref name="length"/> values (its old contents are not kept).</summary>
    static T[] Sized<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }

    /// <summary>The ink map, threshold and chosen regions of one grey picture.</summary>
    sealed class Analysis
    {
        public required byte[] Ink, Selected;
        public required int Height, Width, Threshold;
        public PixelBox Box;
        public bool Found, DarkInk;
    }

    /// <summary>The analysis of grey [height, width]; its ink map and selection live in <paramref name="slot"/>.</summary>
    static Analysis Analyze(byte[] grey, int height, int width, bool? darkInk, Buffers buffers, AnalysisBuffers slot)
    {
        int pixels = height * width;
        bool dark = darkInk ?? IsDarkInk(grey.AsSpan(0, pixels), height, width, Sized(ref buffers.Mean, pixels).AsSpan(0, pixels));

        // Dark ink on light paper; the paper (closing removes every stroke narrower than the kernel) divided out.
        var paper = Sized(ref slot.Paper, pixels).AsSpan(0, pixels);
        grey.AsSpan(0, pixels).CopyTo(paper);
        if (!dark) Threshold.Invert(paper);
        var background = Sized(ref buffers.Background, pixels).AsSpan(0, pixels);
        Morphology.Close(paper, background, height, width, (Math.Max(height, width) / 3) | 1);
        byte[] ink = Sized(ref slot.Ink, pixels);
        Intensity.Divide(paper, background, ink.AsSpan(0, pixels));
        Threshold.Invert(ink.AsSpan(0, pixels));

        var smooth = Sized(ref buffers.Smooth, pixels).AsSpan(0, pixels);
        Intensity.BoxMean(ink, smooth, height, width, 3);
        int strongest = 0;
        foreach (byte v in smooth) strongest = Math.Max(strongest, v);
        // Photo-sized pictures are thresholded after a 3x3 mean: grain and JPEG noise drop by 3x, strokes of 2+ pixels stay.
        bool photo = Math.Min(height, width) >= PhotoSide;
        ReadOnlySpan<byte> measured = photo ? smooth : ink.AsSpan(0, pixels);
        int threshold = Math.Max(Math.Max(Threshold.Otsu(measured), (int)(0.35 * strongest)), MinimumContrast - 1);
        byte[] selected = Sized(ref slot.Selected, pixels);
        selected.AsSpan(0, pixels).Clear();
        var result = new Analysis { Ink = ink, Selected = selected, Height = height, Width = width, Threshold = threshold, DarkInk = dark };
        if (strongest < MinimumContrast) return result;

        var mask = Sized(ref buffers.Mask, pixels).AsSpan(0, pixels);
        Vision.Threshold.Binary(measured, mask, (byte)threshold);
        var labels = Sized(ref buffers.Labels, pixels).AsSpan(0, pixels);
        var regions = Components.Label(mask, height, width, labels);
        var chosen = Choose(regions, photo ? Blobs(regions, labels, height, width) : new bool[regions.Count + 1], height, width);
        if (chosen.Count == 0) return result;

        var keep = new bool[regions.Count + 1];
        PixelBox box = regions[chosen[0] - 1].Box;
        foreach (int label in chosen) { keep[label] = true; box = Union(box, regions[label - 1].Box); }
        for (int i = 0; i < pixels; i++) selected[i] = keep[labels[i]] ? (byte)255 : (byte)0;
        result.Box = box;
        result.Found = true;
        return result;
    }

    /// <summary>Labels of the digit's regions: the main one first, then those that join it.</summary>
    static List<int> Choose(List<Region> regions, bool[] blob, int height, int width)
    {
        var chosen = new List<int>();
        if (regions.Count == 0) return chosen;
        double Score(Region r) => r.Area * (TouchesBorder(r.Box, height, width) ? 0.5 : 1.0) * (blob[r.Label] ? 0.1 : 1.0);
        var main = regions.MaxBy(Score);
        chosen.Add(main.Label);
        var box = main.Box;
        int smallest = Math.Max(2, (int)(0.03 * main.Area));
        var joined = new bool[regions.Count + 1];
        joined[main.Label] = true;
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var region in regions)
            {
                if (joined[region.Label] || region.Area < smallest || (blob[region.Label] && region.Area > main.Area / 3)) continue;
                if (Gap(box, region.Box) > 0.25 * Math.Max(box.Width, box.Height)) continue;
                joined[region.Label] = true;
                chosen.Add(region.Label);
                box = Union(box, region.Box);
                grew = true;
            }
        }
        return chosen;
    }

    /// <summary>
    /// Regions that are solid patches rather than strokes (a shadow, a smudge): mean stroke width, 2·area / outline
    /// length, above 30 % of the region's longer side, and more than 30 pixels. Indexed by label.
    /// </summary>
    static bool[] Blobs(List<Region> regions, ReadOnlySpan<int> labels, int height, int width)
    {
        var outline = new int[regions.Count + 1];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x, label = labels[i];
                if (label != 0 && (x == 0 || y == 0 || x == width - 1 || y == height - 1
                    || labels[i - 1] != label || labels[i + 1] != label || labels[i - width] != label || labels[i + width] != label))
                    outline[label]++;
            }
        var blob = new bool[regions.Count + 1];
        foreach (var r in regions)
            blob[r.Label] = r.Area > 30 && 2.0 * r.Area / Math.Max(1, outline[r.Label]) > 0.3 * Math.Max(r.Box.Width, r.Box.Height);
        return blob;
    }

    /// <summary>
    /// True when the ink is darker than the paper: residuals from a local mean over half the picture have a heavier
    /// dark tail than light tail beyond three robust deviations. Ties fall back to the border's brightness.
    /// </summary>
    public static bool IsDarkInk(ReadOnlySpan<byte> grey, int height, int width) => IsDarkInk(grey, height, width, new byte[height * width]);

    /// <param name="mean">work buffer of height x width</param>
    static bool IsDarkInk(ReadOnlySpan<byte> grey, int height, int width, Span<byte> mean)
    {
        int pixels = height * width;
        Intensity.BoxMean(grey, mean, height, width, Math.Max(3, Math.Min(height, width) / 2) | 1);
        Span<int> histogram = stackalloc int[511];
        histogram.Clear();
        for (int i = 0; i < pixels; i++) histogram[grey[i] - mean[i] + 255]++;
        int median = Intensity.Percentile(histogram, 0.5) - 255;
        Span<int> deviations = stackalloc int[511];
        deviations.Clear();
        for (int d = 0; d < 511; d++) deviations[Math.Abs(d - 255 - median)] += histogram[d];
        double spread = Math.Max(2.0, 3 * 1.4826 * Intensity.Percentile(deviations, 0.5));
        double darkTail = 0, lightTail = 0;
        for (int d = 0; d < 511; d++)
        {
            double residual = d - 255 - median;
            if (residual < -spread) darkTail += histogram[d] * (-residual - spread);
            else if (residual > spread) lightTail += histogram[d] * (residual - spread);
        }
        if (darkTail == lightTail) return Threshold.HasLightBackground(grey, height, width);
        return darkTail > lightTail;
    }

    /// <summary>The model-sized picture: a crop of the model's aspect around the box, ink stretched, area-resized.</summary>
    static ByteImage Render(Analysis a, int height, int width, Buffers buffers)
    {
        var output = new ByteImage(1, height, width);
        PixelBox box = a.Found ? a.Box : new PixelBox(0, 0, a.Width, a.Height);
        int pixels = a.Height * a.Width;
        byte[] ink = a.Ink;   // [a.Height, a.Width] at its start
        if (a.Found)
        {
            // Only the digit's regions (grown a little to keep their anti-aliased edges), stretched to full range.
            var near = Sized(ref buffers.Near, pixels).AsSpan(0, pixels);
            int grow = Math.Max(box.Width, box.Height) >= 64 ? 5 : 3;
            Morphology.Dilate(a.Selected.AsSpan(0, pixels), near, a.Height, a.Width, grow);
            Span<int> histogram = stackalloc int[256];
            histogram.Clear();
            for (int i = 0; i < pixels; i++) if (a.Selected[i] != 0) histogram[ink[i]]++;
            int level = Math.Max(Intensity.Percentile(histogram, 0.9), a.Threshold + 1), low = a.Threshold / 2;
            float gain = 255f / (level - low);
            var stretched = Sized(ref buffers.Stretched, pixels);
            stretched.AsSpan(0, pixels).Clear();
            for (int i = 0; i < pixels; i++)
                if (near[i] != 0) stretched[i] = (byte)Math.Clamp((int)MathF.Round((ink[i] - low) * gain), 0, 255);
            ink = stretched;
        }

        // A crop of the output's aspect ratio around the box's centre, the box's longer side plus the margins.
        double side = Math.Max(box.Width / (double)width, box.Height / (double)height) * (1 + 2 * Margin);
        int cropWidth = Math.Max(1, (int)Math.Round(side * width)), cropHeight = Math.Max(1, (int)Math.Round(side * height));
        int x0 = box.X + box.Width / 2 - cropWidth / 2, y0 = box.Y + box.Height / 2 - cropHeight / 2;
        var crop = Sized(ref buffers.Crop, cropHeight * cropWidth);
        crop.AsSpan(0, cropHeight * cropWidth).Clear();
        for (int y = Math.Max(0, -y0); y < cropHeight && y0 + y < a.Height; y++)
        {
            int from = Math.Max(0, -x0), to = Math.Min(cropWidth, a.Width - x0);
            if (to > from) ink.AsSpan((y0 + y) * a.Width + x0 + from, to - from).CopyTo(crop.AsSpan(y * cropWidth + from));
        }
        Resize.Area(crop, cropHeight, cropWidth, output.Plane(0), height, width);
        return output;
    }

    static (byte[] Plane, int Height, int Width, double Scale) Shrink(byte[] plane, int height, int width, int maxSide)
    {
        int longest = Math.Max(height, width);
        if (longest <= maxSide) return (plane, height, width, 1.0);
        double scale = longest / (double)maxSide;
        int h = Math.Max(1, (int)Math.Round(height / scale)), w = Math.Max(1, (int)Math.Round(width / scale));
        var shrunk = new byte[h * w];
        Resize.Area(plane, height, width, shrunk, h, w);
        return (shrunk, h, w, scale);
    }

    static PixelBox ToSource(PixelBox box, double scale, int height, int width)
    {
        if (scale == 1) return box;
        int x0 = Math.Clamp((int)Math.Floor(box.X * scale), 0, width - 1), y0 = Math.Clamp((int)Math.Floor(box.Y * scale), 0, height - 1);
        int x1 = Math.Clamp((int)Math.Ceiling((box.X + box.Width) * scale), x0 + 1, width);
        int y1 = Math.Clamp((int)Math.Ceiling((box.Y + box.Height) * scale), y0 + 1, height);
        return new PixelBox(x0, y0, x1 - x0, y1 - y0);
    }

    static byte[] Crop(byte[] plane, int width, PixelBox box)
    {
        var result = new byte[box.Width * box.Height];
        for (int y = 0; y < box.Height; y++)
            plane.AsSpan((box.Y + y) * width + box.X, box.Width).CopyTo(result.AsSpan(y * box.Width));
        return result;
    }

    static bool TouchesBorder(PixelBox b, int height, int width) => b.X == 0 || b.Y == 0 || b.X + b.Width == width || b.Y + b.Height == height;

    static PixelBox Union(PixelBox a, PixelBox b)
    {
        int x0 = Math.Min(a.X, b.X), y0 = Math.Min(a.Y, b.Y);
        int x1 = Math.Max(a.X + a.Width, b.X + b.Width), y1 = Math.Max(a.Y + a.Height, b.Y + b.Height);
        return new PixelBox(x0, y0, x1 - x0, y1 - y0);
    }

    /// <summary>Chebyshev distance between two boxes (0 when they touch or overlap).</summary>
    static int Gap(PixelBox a, PixelBox b)
    {
        int dx = Math.Max(0, Math.Max(a.X - (b.X + b.Width), b.X - (a.X + a.Width)));
        int dy = Math.Max(0, Math.Max(a.Y - (b.Y + b.Height), b.Y - (a.Y + a.Height)));
        return Math.Max(dx, dy);
    }
}
