namespace Ongko.Data;

/// <summary>What to do about <c>reverse</c>: keep the image, invert it, or decide per image from its border.</summary>
public enum ReverseMode { Off, On, Auto }

/// <summary>
/// How an image becomes the model's input: the reference's steps (reverse, use_bbox, opening, dilation), or
/// <see cref="Vision.DigitLocator"/> (find the digit in any picture, flatten the light, crop with a margin, keep the aspect).
/// </summary>
public enum NormalizeMode { None, Digit }

/// <summary>What to do with an image that cannot be decoded: skip it (and count it) or stop with an error.</summary>
public enum BadImagePolicy { Skip, Fail }

/// <summary>
/// The reference config's <c>augment:</c> block (plus a few Ongko additions), one property per key.
/// Morphology and thresholds below all act on the image after <see cref="Reverse"/>, when the digit is
/// light on a dark background.
/// </summary>
public sealed class AugmentOptions
{
    /// <summary><c>img_shape</c>: output height in pixels.</summary>
    public int Height { get; set; } = 28;
    /// <summary><c>img_shape</c>: output width in pixels.</summary>
    public int Width { get; set; } = 28;
    /// <summary>Input channel count of the model (1 grey, 3 RGB; a grey image is repeated on all three). The reference used 3.</summary>
    public int Channels { get; set; } = 3;
    /// <summary><c>use_bbox</c>: crop to the largest connected region found by Otsu thresholding.</summary>
    public bool UseBoundingBox { get; set; }
    /// <summary><c>reverse</c>: invert so the digit is light on dark. <c>auto</c> inverts images whose border is light.</summary>
    public ReverseMode Reverse { get; set; } = ReverseMode.Auto;
    /// <summary><c>aug</c>: training-time rotation (half the time, uniform within ±10°) and Gaussian blur (half the time).</summary>
    public bool Augment { get; set; }
    /// <summary><c>dilation</c>: thicken strokes with a 5x5 dilation.</summary>
    public bool Dilation { get; set; }
    /// <summary><c>opening</c>: a 5x5 morphological opening (drops specks and hair-thin strokes).</summary>
    public bool Opening { get; set; }
    /// <summary><c>mixup</c>: probability that a training batch is mixed (Beta(8, 8) weights).</summary>
    public double Mixup { get; set; }
    /// <summary><c>contour_cutout_prob</c>: probability that a training image gets contour cutout.</summary>
    public double ContourCutoutProbability { get; set; }
    /// <summary><c>contour_cutout_number</c>: the most squares cut in one image.</summary>
    public int ContourCutoutNumber { get; set; } = 5;
    /// <summary><c>affine</c>: random affine warp after the resize (torchvision's RandomAffine); null is off.</summary>
    public AffineOptions? Affine { get; set; }
    /// <summary><c>affine_prob</c>: probability that a training image gets the <see cref="Affine"/> warp.</summary>
    public double AffineProbability { get; set; } = 1.0;
    /// <summary>
    /// <c>normalize</c>: <c>none</c> (the reference's steps above) or <c>digit</c> (<see cref="Vision.DigitLocator"/>:
    /// any size, polarity and lighting; replaces reverse and use_bbox, and excludes opening, dilation and contour cutout).
    /// </summary>
    public NormalizeMode Normalize { get; set; }
    /// <summary><c>stroke</c>: probability that a training image's strokes are thickened or thinned (a 3x3 dilation or
    /// erosion blended in by a random amount, half the time each): thick and thin pens.</summary>
    public double StrokeProbability { get; set; }
    /// <summary><c>photometric</c>: probability of a random contrast (ink 55-100 %), background lift (0-20 %) and gamma
    /// (0.7-1.4) on a training image: faint ink and imperfectly flattened paper.</summary>
    public double PhotometricProbability { get; set; }
    /// <summary><c>noise</c>: the largest standard deviation (in [0, 1] units) of Gaussian pixel noise on a training image;
    /// each image draws its own in [0, noise]. 0 is off.</summary>
    public double Noise { get; set; }
    /// <summary><c>blur</c>: probability of a Gaussian blur with sigma 0.3-1.1 pixels on a training image (focus, JPEG).</summary>
    public double BlurProbability { get; set; }
    /// <summary><c>cache</c>: keep preprocessed images in memory (as bytes).</summary>
    public bool Cache { get; set; } = true;
    /// <summary><c>on_bad_image</c>: skip (counted) or fail on an image that cannot be read.</summary>
    public BadImagePolicy OnBadImage { get; set; } = BadImagePolicy.Skip;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (Height < 1 || Width < 1) throw new ArgumentException($"img_shape must be positive, got {Height}x{Width}");
        if (Channels is not (1 or 3)) throw new ArgumentException($"the input channel count must be 1 or 3, got {Channels}");
        if (!(Mixup >= 0 && Mixup <= 1)) throw new ArgumentException($"mixup is a probability in [0, 1], got {Mixup}");
        if (!(ContourCutoutProbability >= 0 && ContourCutoutProbability <= 1)) throw new ArgumentException($"contour_cutout_prob is a probability in [0, 1], got {ContourCutoutProbability}");
        if (!(AffineProbability >= 0 && AffineProbability <= 1)) throw new ArgumentException($"affine_prob is a probability in [0, 1], got {AffineProbability}");
        Affine?.Validate();
        if (!(StrokeProbability is >= 0 and <= 1) || !(PhotometricProbability is >= 0 and <= 1) || !(BlurProbability is >= 0 and <= 1))
            throw new ArgumentException($"stroke, photometric and blur are probabilities in [0, 1], got {StrokeProbability}, {PhotometricProbability}, {BlurProbability}");
        if (!(Noise is >= 0 and <= 1)) throw new ArgumentException($"noise is a standard deviation in [0, 1], got {Noise}");
        if (Normalize == NormalizeMode.Digit && (UseBoundingBox || Opening || Dilation || ContourCutoutProbability > 0))
            throw new ArgumentException("normalize: digit finds and crops the digit itself; use_bbox, opening, dilation and contour_cutout_prob must be off with it");
        if (ContourCutoutNumber < 1) throw new ArgumentException($"contour_cutout_number must be at least 1, got {ContourCutoutNumber}");
    }

    public AugmentOptions Clone() => (AugmentOptions)MemberwiseClone();
}

/// <summary>
/// The ranges of a random affine warp, with torchvision RandomAffine's meaning: angle uniform in
/// [<see cref="DegreesMin"/>, <see cref="DegreesMax"/>]; translation uniform in ±<see cref="TranslateX"/>·width and
/// ±<see cref="TranslateY"/>·height, rounded to whole pixels; scale uniform in [<see cref="ScaleMin"/>, <see cref="ScaleMax"/>];
/// shear angles uniform in the x and y ranges (degrees). All about the image centre. The defaults change nothing.
/// </summary>
public sealed record AffineOptions
{
    public double DegreesMin { get; init; }
    public double DegreesMax { get; init; }
    /// <summary>Largest horizontal shift as a fraction of the width, in [0, 1].</summary>
    public double TranslateX { get; init; }
    /// <summary>Largest vertical shift as a fraction of the height, in [0, 1].</summary>
    public double TranslateY { get; init; }
    public double ScaleMin { get; init; } = 1;
    public double ScaleMax { get; init; } = 1;
    public double ShearXMin { get; init; }
    public double ShearXMax { get; init; }
    public double ShearYMin { get; init; }
    public double ShearYMax { get; init; }

    /// <summary>torchvision's short forms: angle in ±degrees, shift up to translate·size on both axes, x shear in ±shear.</summary>
    public static AffineOptions Symmetric(double degrees = 0, double translate = 0, double scaleMin = 1, double scaleMax = 1, double shear = 0)
    {
        if (degrees < 0) throw new ArgumentException($"affine degrees must be >= 0 (the angle is drawn from ±degrees), got {degrees}");
        if (shear < 0) throw new ArgumentException($"affine shear must be >= 0 (the x shear is drawn from ±shear), got {shear}");
        return new() { DegreesMin = -degrees, DegreesMax = degrees, TranslateX = translate, TranslateY = translate, ScaleMin = scaleMin, ScaleMax = scaleMax, ShearXMin = -shear, ShearXMax = shear };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        double[] all = [DegreesMin, DegreesMax, TranslateX, TranslateY, ScaleMin, ScaleMax, ShearXMin, ShearXMax, ShearYMin, ShearYMax];
        if (!all.All(double.IsFinite)) throw new ArgumentException("affine values must be finite numbers");
        if (DegreesMin > DegreesMax) throw new ArgumentException($"affine degrees range [{DegreesMin}, {DegreesMax}] has min > max");
        if (TranslateX is < 0 or > 1 || TranslateY is < 0 or > 1)
            throw new ArgumentException($"affine translate is a fraction of the image size in [0, 1], got [{TranslateX}, {TranslateY}]");
        if (ScaleMin <= 0) throw new ArgumentException($"affine scale must be > 0, got [{ScaleMin}, {ScaleMax}]");
        if (ScaleMin > ScaleMax) throw new ArgumentException($"affine scale range [{ScaleMin}, {ScaleMax}] has min > max");
        if (ShearXMin > ShearXMax || ShearYMin > ShearYMax)
            throw new ArgumentException($"affine shear ranges [{ShearXMin}, {ShearXMax}] (x), [{ShearYMin}, {ShearYMax}] (y) need min <= max");
        // tan(±90°) is infinite: the image collapses onto a line.
        if (new[] { ShearXMin, ShearXMax, ShearYMin, ShearYMax }.Any(s => Math.Abs(s) >= 90))
            throw new ArgumentException($"affine shear must stay strictly between -90 and 90 degrees, got x [{ShearXMin}, {ShearXMax}], y [{ShearYMin}, {ShearYMax}]");
    }

    /// <summary>
    /// Draws one warp for a <paramref name="height"/> x <paramref name="width"/> image from <paramref name="rng"/>,
    /// in torchvision's order (angle, x shift, y shift, scale, x shear, y shear); always six draws.
    /// </summary>
    public Vision.AffineMatrix Sample(Tensors.Rng rng, int height, int width)
    {
        double Uniform(double low, double high) => low + (high - low) * rng.NextDouble();
        double angle = Uniform(DegreesMin, DegreesMax);
        double maxX = TranslateX * width, maxY = TranslateY * height;
        double translateX = Math.Round(Uniform(-maxX, maxX)), translateY = Math.Round(Uniform(-maxY, maxY));
        double scale = Uniform(ScaleMin, ScaleMax);
        double shearX = Uniform(ShearXMin, ShearXMax), shearY = Uniform(ShearYMin, ShearYMax);
        return Vision.AffineMatrix.TorchVision(height, width, angle, translateX, translateY, scale, shearX, shearY);
    }
}
