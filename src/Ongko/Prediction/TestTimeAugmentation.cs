namespace Ongko.Prediction;

/// <summary>
/// One test-time view of a preprocessed input: rotated by <see cref="Degrees"/> about the image centre
/// (positive = counter-clockwise as seen, OpenCV's convention), then shifted <see cref="ShiftX"/> pixels right and
/// <see cref="ShiftY"/> pixels down.
/// </summary>
public readonly record struct TestTimeView(string Name, int ShiftX, int ShiftY, float Degrees);

/// <summary>
/// Test-time augmentation: a fixed set of small shifts and rotations applied to the preprocessed input (the model's
/// [channels, height, width] in [0, 1], after crop and resize); a classifier averages the probabilities of all views.
/// <see cref="Standard"/> is identity, 1-pixel shifts right, left, down and up, 2-pixel diagonal shifts
/// (right-down, left-up), and rotations of +8 and -8 degrees: 9 views.
/// Sampling is bilinear; pixels that would come from outside the image repeat the nearest edge pixel (so the
/// background stays what it is for either polarity). Integer shifts copy pixels exactly. Immutable, thread-safe.
/// </summary>
public sealed class TestTimeAugmentation
{
    /// <summary>The documented set used by <c>--tta</c>.</summary>
    public static readonly TestTimeAugmentation Standard = new([
        new("identity", 0, 0, 0),
        new("right 1", 1, 0, 0), new("left 1", -1, 0, 0), new("down 1", 0, 1, 0), new("up 1", 0, -1, 0),
        new("right 2 down 2", 2, 2, 0), new("left 2 up 2", -2, -2, 0),
        new("rotate +8", 0, 0, 8), new("rotate -8", 0, 0, -8),
    ]);

    public TestTimeAugmentation(IReadOnlyList<TestTimeView> views)
    {
        if (views.Count == 0) throw new ArgumentException("test-time augmentation needs at least one view", nameof(views));
        Views = views.ToArray();
    }

    public IReadOnlyList<TestTimeView> Views { get; }

    /// <summary>
    /// Writes <paramref name="view"/> of <paramref name="input"/> into <paramref name="output"/>; both are
    /// [planes, height, width] (any number of images and channels as planes).
    /// </summary>
    public static void Apply(TestTimeView view, ReadOnlySpan<float> input, int planes, int height, int width, Span<float> output)
    {
        int size = height * width;
        if (input.Length < planes * size || output.Length < planes * size) throw new ArgumentException("input or output is shorter than planes x height x width");
        double radians = view.Degrees * Math.PI / 180, cos = Math.Cos(radians), sin = Math.Sin(radians);
        double centreX = (width - 1) / 2.0, centreY = (height - 1) / 2.0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                // Inverse map: undo the shift, then the rotation (forward: x' = cos·dx + sin·dy, y' = -sin·dx + cos·dy).
                double dx = x - view.ShiftX - centreX, dy = y - view.ShiftY - centreY;
                double sourceX = centreX + cos * dx - sin * dy, sourceY = centreY + sin * dx + cos * dy;
                int x0 = (int)Math.Floor(sourceX), y0 = (int)Math.Floor(sourceY);
                float fx = (float)(sourceX - x0), fy = (float)(sourceY - y0);
                if (Math.Abs(fx) < 1e-9f) fx = 0;
                if (Math.Abs(fy) < 1e-9f) fy = 0;
                int left = Math.Clamp(x0, 0, width - 1), right = Math.Clamp(x0 + 1, 0, width - 1);
                int top = Math.Clamp(y0, 0, height - 1), bottom = Math.Clamp(y0 + 1, 0, height - 1);
                for (int p = 0; p < planes; p++)
                {
                    var plane = input.Slice(p * size, size);
                    float value = fx == 0 && fy == 0 ? plane[top * width + left]
                        : (1 - fy) * ((1 - fx) * plane[top * width + left] + fx * plane[top * width + right])
                          + fy * ((1 - fx) * plane[bottom * width + left] + fx * plane[bottom * width + right]);
                    output[p * size + y * width + x] = value;
                }
            }
    }
}
