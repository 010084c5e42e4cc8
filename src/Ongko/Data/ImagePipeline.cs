using System.Numerics.Tensors;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Data;

/// <summary>
/// A decoded image after the deterministic preprocessing, kept as bytes (this is what the cache holds).
/// Either final (already cropped and resized to the output shape) or, for training with contour cutout,
/// the full image with its digit box and outline, because the cutout must happen before the crop.
/// </summary>
public sealed class PreparedImage
{
    public required ByteImage Image { get; init; }
    public bool IsFinal { get; init; }
    /// <summary>The crop box in <see cref="Image"/> (non-final images only).</summary>
    public PixelBox Box { get; init; }
    /// <summary>Outline pixels of the digit's region, flat indices into a plane (non-final images only).</summary>
    public int[] Outline { get; init; } = [];
    public long ByteCount => Image.Data.Length + 4L * Outline.Length;
}

/// <summary>
/// The reference's preprocessing and augmentation for one image, in this order:
/// reverse (invert, or <c>auto</c> from the border) so the digit is light on dark; 5x5 opening;
/// digit box (Otsu threshold, 5x5 closing to join broken strokes, largest 8-connected region; the whole
/// image when nothing is found); 5x5 dilation; [training: contour cutout]; crop; area resize;
/// scale to [0, 1]; [training: rotation within ±10° (<c>aug</c>, half the time) and the random affine warp
/// (<c>affine</c>, with probability <c>affine_prob</c>), composed into one bilinear warp about the centre with zero fill;
/// then Gaussian blur (<c>aug</c>, half the time); then the configured stroke (before the warp), blur, photometric and noise
/// augmentations];
/// a grey image is repeated over the output channels. With <c>normalize: digit</c> the steps before the
/// augmentation are <see cref="DigitLocator.Normalize"/> instead. Thread-safe: one instance serves all workers.
/// </summary>
public sealed class ImagePipeline
{
    readonly AugmentOptions options;
    [ThreadStatic] static float[]? scratchA;
    [ThreadStatic] static byte[]? resized;

    public ImagePipeline(AugmentOptions options)
    {
        options.Validate();
        this.options = options;
    }

    public AugmentOptions Options => options;
    /// <summary>Floats per rendered sample: Channels x Height x Width.</summary>
    public int SampleSize => options.Channels * options.Height * options.Width;

    /// <summary>
    /// The deterministic part. With <paramref name="forCutout"/> (training with contour cutout) the result
    /// keeps the full image, box and outline; otherwise it is cropped and resized. The input is not modified.
    /// </summary>
    public PreparedImage Prepare(ByteImage decoded, bool forCutout) => Prepare(decoded, forCutout, keepSmallCrop: false);

    /// <summary>
    /// As <see cref="Prepare(ByteImage, bool)"/>; with <paramref name="keepSmallCrop"/> a crop with fewer pixels than the
    /// output is returned as it is (not final, its box the whole crop) and <see cref="Render"/> resizes it: what the cache
    /// keeps when the model's input is larger than the digit (model3: 48x48 from a crop of at most 28x28).
    /// </summary>
    internal PreparedImage Prepare(ByteImage decoded, bool forCutout, bool keepSmallCrop)
    {
        if (options.Normalize == NormalizeMode.Digit)
            return new PreparedImage { Image = DigitLocator.Normalize(decoded, options.Height, options.Width).Image, IsFinal = true };
        var image = decoded.Clone();
        int height = image.Height, width = image.Width, planeSize = image.PlaneSize;

        bool invert = options.Reverse switch
        {
            ReverseMode.On => true,
            ReverseMode.Auto => Threshold.HasLightBackground(image.Channels == 1 ? image.Plane(0) : image.ToGrey(), height, width),
            _ => false,
        };
        if (invert) Threshold.Invert(image.Data.AsSpan(0, image.Channels * planeSize));

        if (options.Opening) ForEachPlane(image, Morphology.Open);

        PixelBox box = new(0, 0, width, height);
        int[] outline = [];
        if (options.UseBoundingBox || forCutout)
        {
            byte[] region = new byte[planeSize];
            var found = FindDigit(image, region);
            if (found is { } digit)
            {
                if (options.UseBoundingBox) box = options.Dilation ? digit.Grow(2, height, width) : digit;
                if (forCutout) outline = Components.Outline(region, height, width);
            }
        }

        if (options.Dilation) ForEachPlane(image, Morphology.Dilate);

        if (forCutout) return new PreparedImage { Image = image, Box = box, Outline = outline };
        if (keepSmallCrop && box.Width * box.Height < options.Height * options.Width && (box.Height, box.Width) != (options.Height, options.Width))
        {
            var crop = box == new PixelBox(0, 0, width, height) ? image : image.Crop(box);
            return new PreparedImage { Image = crop, Box = new PixelBox(0, 0, crop.Width, crop.Height) };
        }
        return new PreparedImage { Image = CropAndResize(image, box), IsFinal = true };
    }

    /// <summary>
    /// The digit's box: Otsu threshold of the grey image, 5x5 closing, largest connected region.
    /// Null when the threshold finds nothing. <paramref name="region"/> receives that region's mask.
    /// </summary>
    public static PixelBox? FindDigit(ByteImage image, Span<byte> region)
    {
        byte[] grey = image.ToGrey();
        int height = image.Height, width = image.Width;
        byte threshold = Threshold.Otsu(grey);
        byte[] mask = new byte[grey.Length], closed = new byte[grey.Length];
        Threshold.Binary(grey, mask, threshold);
        Morphology.Close(mask, closed, height, width);
        return Components.LargestRegion(closed, height, width, region);
    }

    /// <summary>
    /// Turns a prepared image into floats in [0, 1], [Channels, Height, Width], into <paramref name="destination"/>.
    /// <paramref name="rng"/> null means no augmentation (validation, test, prediction).
    /// </summary>
    public void Render(PreparedImage prepared, Rng? rng, Span<float> destination)
    {
        ByteImage image = prepared.Image;
        if (!prepared.IsFinal)
        {
            if (rng is not null && options.ContourCutoutProbability > 0 && rng.NextDouble() < options.ContourCutoutProbability)
            {
                image = image.Clone();
                Cutout.Apply(image, prepared.Outline, options.ContourCutoutNumber, rng);
            }
            image = CropAndResize(image, prepared.Box);
        }

        if (image.Height != options.Height || image.Width != options.Width) throw new InvalidOperationException("prepared image has the wrong size");
        RenderPixels(image.Data.AsSpan(0, image.Channels * image.PlaneSize), image.Channels, rng, destination);
    }

    /// <summary>
    /// <see cref="Render"/> of a final or small-crop image held as bytes: <paramref name="pixels"/> [planes, pixelHeight, pixelWidth],
    /// resized to the output size first (into a per-thread buffer, so a cached epoch allocates nothing) when it is a crop.
    /// </summary>
    internal void RenderPixels(ReadOnlySpan<byte> pixels, int planes, int pixelHeight, int pixelWidth, Rng? rng, Span<float> destination)
    {
        if (pixelHeight == options.Height && pixelWidth == options.Width) { RenderPixels(pixels, planes, rng, destination); return; }
        int planeSize = options.Height * options.Width, sourceSize = pixelHeight * pixelWidth;
        if (resized is null || resized.Length < planes * planeSize) resized = new byte[planes * planeSize];
        for (int c = 0; c < planes; c++)
            Resize.Area(pixels.Slice(c * sourceSize, sourceSize), pixelHeight, pixelWidth, resized.AsSpan(c * planeSize, planeSize), options.Height, options.Width);
        RenderPixels(resized.AsSpan(0, planes * planeSize), planes, rng, destination);
    }

    /// <summary>The augmentation and conversion to floats of an output-sized image: pixels [planes, Height, Width].</summary>
    void RenderPixels(ReadOnlySpan<byte> pixels, int planes, Rng? rng, Span<float> destination)
    {
        int height = options.Height, width = options.Width, planeSize = height * width;
        if (destination.Length < SampleSize) throw new ArgumentException("destination is shorter than one sample");

        bool warp = false, blur = false;
        double sigma = 0;
        AffineMatrix matrix = AffineMatrix.Identity;
        if (rng is not null && options.Augment)
        {
            bool rotate = rng.NextDouble() < 0.5; double angle = (rng.NextDouble() * 2 - 1) * 10.0;
            if (rotate) { matrix = AffineMatrix.Rotation(height, width, angle); warp = true; }
            blur = rng.NextDouble() < 0.5;
            // The reference blurred raw ~180 px images with sigma 3..5 (about 2% of the side); the same share of this image.
            sigma = (0.5 + 0.25 * rng.NextDouble()) * Math.Min(height, width) / 28.0;
        }
        if (rng is not null && options.Affine is { } affine)
        {
            // Drawn only when configured, so configs without it keep their exact random stream.
            bool apply = rng.NextDouble() < options.AffineProbability;
            var random = affine.Sample(rng, height, width);
            // One resampling for rotation and affine together: the rotation first, then the affine warp.
            if (apply) { matrix = matrix.Then(random); warp = true; }
        }

        // The issue-10 augmentations, each drawn only when configured (configs without them keep their random stream).
        var look = rng is null ? default : Appearance.Draw(options, rng);

        for (int c = 0; c < Math.Min(planes, options.Channels); c++)
        {
            var plane = destination.Slice(c * planeSize, planeSize);
            var source = pixels.Slice(c * planeSize, planeSize);
            TensorPrimitives.ConvertChecked<byte, float>(source, plane);
            TensorPrimitives.Multiply(plane, 1f / 255f, plane);
            if (look.Stroke != 0) ChangeStroke(source, plane, height, width, look.Stroke);
            if (warp)
            {
                var copy = Scratch(ref scratchA, planeSize);
                plane.CopyTo(copy);
                Geometry.WarpAffine(copy, plane, height, width, matrix);
            }
            if (blur) Vision.Blur.Gaussian(plane, height, width, sigma);
            if (look.BlurSigma > 0) Vision.Blur.Gaussian(plane, height, width, look.BlurSigma);
            if (look.Photometric) Photometric(plane, look.Contrast, look.Lift, look.Gamma);
            if (look.NoiseSigma > 0)
            {
                for (int i = 0; i < plane.Length; i++) plane[i] += (float)(look.NoiseSigma * rng!.NextGaussian());
                TensorPrimitives.Clamp(plane, 0f, 1f, plane);
            }
        }
        if (planes == 1)
            for (int c = 1; c < options.Channels; c++) destination.Slice(0, planeSize).CopyTo(destination.Slice(c * planeSize, planeSize));
    }

    /// <summary>One training image's draw of the stroke, blur, photometric and noise augmentations.</summary>
    readonly record struct Appearance(double Stroke, double BlurSigma, bool Photometric, float Contrast, float Lift, float Gamma, double NoiseSigma)
    {
        public static Appearance Draw(AugmentOptions options, Rng rng)
        {
            double stroke = 0, blurSigma = 0, noise = 0;
            bool photometric = false;
            float contrast = 1, lift = 0, gamma = 1;
            if (options.StrokeProbability > 0 && rng.NextDouble() < options.StrokeProbability)
                stroke = rng.NextDouble() < 0.5 ? 0.3 + 0.7 * rng.NextDouble() : -(0.2 + 0.5 * rng.NextDouble());
            if (options.BlurProbability > 0 && rng.NextDouble() < options.BlurProbability) blurSigma = 0.3 + 0.8 * rng.NextDouble();
            if (options.PhotometricProbability > 0 && rng.NextDouble() < options.PhotometricProbability)
            {
                photometric = true;
                contrast = (float)(0.55 + 0.45 * rng.NextDouble());
                lift = (float)(0.2 * rng.NextDouble());
                gamma = (float)Math.Exp((rng.NextDouble() * 2 - 1) * Math.Log(1.4));
            }
            if (options.Noise > 0) noise = options.Noise * rng.NextDouble();
            return new(stroke, blurSigma, photometric, contrast, lift, gamma, noise);
        }
    }

    /// <summary>
    /// Thicker (amount &gt; 0) or thinner (amount &lt; 0) strokes: the plane blended towards its 3x3 dilation or erosion.
    /// source: the plane's bytes; plane: the same as floats in [0, 1], changed in place. [height, width].
    /// </summary>
    static void ChangeStroke(ReadOnlySpan<byte> source, Span<float> plane, int height, int width, double amount)
    {
        var changed = new byte[height * width];
        if (amount > 0) Morphology.Dilate(source, changed, height, width, 3);
        else Morphology.Erode(source, changed, height, width, 3);
        float weight = (float)Math.Abs(amount);
        for (int i = 0; i < plane.Length; i++) plane[i] += weight * (changed[i] / 255f - plane[i]);
    }

    /// <summary>plane = lift + (1 - lift)·(contrast·plane)^gamma: fainter ink, a lighter background, a different tone curve.</summary>
    static void Photometric(Span<float> plane, float contrast, float lift, float gamma)
    {
        for (int i = 0; i < plane.Length; i++)
            plane[i] = lift + (1 - lift) * MathF.Pow(Math.Clamp(contrast * plane[i], 0f, 1f), gamma);
    }

    /// <summary>A decoded image with at most the pipeline's channel count: a colour image becomes grey for a grey model.</summary>
    public ByteImage ToInputChannels(ByteImage decoded) =>
        decoded.Channels > options.Channels ? new ByteImage(1, decoded.Height, decoded.Width, decoded.ToGrey()) : decoded;

    /// <summary>Prepare then render, in one call (no cache).</summary>
    public void Process(ByteImage decoded, Rng? rng, Span<float> destination)
    {
        bool cutout = rng is not null && options.ContourCutoutProbability > 0;
        Render(Prepare(decoded, cutout), rng, destination);
    }

    ByteImage CropAndResize(ByteImage image, PixelBox box)
    {
        if (box.X != 0 || box.Y != 0 || box.Width != image.Width || box.Height != image.Height) image = image.Crop(box);
        return image.Height == options.Height && image.Width == options.Width ? image : Resize.Area(image, options.Height, options.Width);
    }

    delegate void PlaneOperation(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel);

    static void ForEachPlane(ByteImage image, PlaneOperation operation)
    {
        var result = new byte[image.PlaneSize];
        for (int c = 0; c < image.Channels; c++)
        {
            operation(image.Plane(c), result, image.Height, image.Width, 5);
            result.CopyTo(image.Plane(c));
        }
    }

    static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[length];
        return buffer.AsSpan(0, length);
    }
}
