namespace Ongko.Data;

/// <summary>What to do about <c>reverse</c>: keep the image, invert it, or decide per image from its border.</summary>
public enum ReverseMode { Off, On, Auto }

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
    /// <summary><c>cache</c>: keep preprocessed images in memory (as bytes).</summary>
    public bool Cache { get; set; } = true;
    /// <summary><c>on_bad_image</c>: skip (counted) or fail on an image that cannot be read.</summary>
    public BadImagePolicy OnBadImage { get; set; } = BadImagePolicy.Skip;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (Height < 1 || Width < 1) throw new ArgumentException($"img_shape must be positive, got {Height}x{Width}");
        if (Channels is not (1 or 3)) throw new ArgumentException($"the input channel count must be 1 or 3, got {Channels}");
        if (Mixup is < 0 or > 1) throw new ArgumentException($"mixup is a probability in [0, 1], got {Mixup}");
        if (ContourCutoutProbability is < 0 or > 1) throw new ArgumentException($"contour_cutout_prob is a probability in [0, 1], got {ContourCutoutProbability}");
        if (ContourCutoutNumber < 1) throw new ArgumentException($"contour_cutout_number must be at least 1, got {ContourCutoutNumber}");
    }

    public AugmentOptions Clone() => (AugmentOptions)MemberwiseClone();
}
