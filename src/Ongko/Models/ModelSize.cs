using System.Globalization;

namespace Ongko.Models;

/// <summary>
/// What a layer list will allocate for one input shape, worked out from the rows alone (nothing is
/// allocated), so a config or checkpoint that declares a model too large for this machine is refused
/// with the numbers before any memory is taken. Counts are in floats; sums saturate instead of wrapping.
/// </summary>
/// <param name="Parameters">learned values (weights and biases)</param>
/// <param name="Buffers">saved non-learned values (BatchNorm's running statistics)</param>
/// <param name="ActivationsPerSample">the input and every layer's output, for one sample</param>
/// <param name="WorkPerSample">scratch per sample (im2col columns of the largest convolution)</param>
/// <param name="LargestParameter">the largest single weight tensor</param>
/// <param name="LargestActivationPerSample">the largest single layer output (or im2col) for one sample</param>
public sealed record ModelSize(double Parameters, double Buffers, double ActivationsPerSample, double WorkPerSample,
                               double LargestParameter, double LargestActivationPerSample)
{
    /// <summary>
    /// Sizes for samples of <paramref name="sampleShape"/> ([channels, height, width] or [features]). Rows whose
    /// arguments or shapes do not fit stop the walk: building the model reports those with the row.
    /// </summary>
    public static ModelSize Estimate(IReadOnlyList<LayerSpec> rows, IReadOnlyList<int> sampleShape)
    {
        double[] shape = sampleShape.Select(d => (double)d).ToArray();
        double parameters = 0, buffers = 0, activations = Product(shape), work = 0, largestParameter = 0, largestActivation = activations;
        void Parameter(double count) { parameters += count; largestParameter = Math.Max(largestParameter, count); }
        foreach (var row in rows)
        {
            double Argument(int index, double fallback) =>
                index < row.Arguments.Count && double.TryParse(row.Arguments[index], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                    ? value : fallback;
            bool Bias(int index) => index >= row.Arguments.Count || row.Arguments[index].ToLowerInvariant() is not ("false" or "0");
            switch (row.Kind)
            {
                case "Conv2D" when shape.Length == 3:
                {
                    double inputs = Argument(0, shape[0]), outputs = Argument(1, 1), kernel = Argument(2, 1), stride = Math.Max(Argument(3, 1), 1), padding = Argument(4, 0);
                    double height = Math.Floor((shape[1] + 2 * padding - kernel) / stride) + 1, width = Math.Floor((shape[2] + 2 * padding - kernel) / stride) + 1;
                    if (height < 1 || width < 1) return Result();
                    Parameter(outputs * inputs * kernel * kernel);
                    if (Bias(5)) Parameter(outputs);
                    double columns = inputs * kernel * kernel * height * width;
                    work = Math.Max(work, columns);
                    largestActivation = Math.Max(largestActivation, columns);
                    shape = [outputs, height, width];
                    break;
                }
                case "MaxPool2D" when shape.Length == 3:
                {
                    double kernel = Argument(0, 1), stride = Math.Max(Argument(1, 1), 1);
                    if (shape[1] < kernel || shape[2] < kernel) return Result();
                    shape = [shape[0], Math.Floor((shape[1] - kernel) / stride) + 1, Math.Floor((shape[2] - kernel) / stride) + 1];
                    activations += Product(shape);  // the argmax of each output
                    break;
                }
                case "Linear":
                {
                    double inputs = Product(shape), outputs = Argument(0, 1);
                    Parameter(outputs * inputs);
                    if (Bias(1)) Parameter(outputs);
                    shape = [outputs];
                    break;
                }
                case "BatchNorm2D" or "BatchNorm1D":
                    Parameter(2 * shape[0]);
                    buffers += 2 * shape[0] + 1;  // running mean and variance, batches tracked
                    activations += Product(shape);  // normalised values or statistics kept for backward
                    break;
                case "Flatten": shape = [Product(shape)]; break;
                case "Dropout" or "Dropout2D": activations += Product(shape); break;  // the mask
            }
            double size = Product(shape);
            activations += size;
            largestActivation = Math.Max(largestActivation, size);
        }
        return Result();

        ModelSize Result() => new(parameters, buffers, activations, work, largestParameter, largestActivation);
    }

    /// <summary>Estimate for a built model (its own rows and input shape).</summary>
    public static ModelSize Of(Sequential model) => Estimate(LayerFactory.Describe(model), model.InputShape);

    /// <summary>
    /// Bytes for training on batches of <paramref name="batch"/>: each parameter with its gradient and up to two
    /// optimizer states, every activation with its gradient, and scratch for up to 16 images per convolution.
    /// </summary>
    public double TrainingBytes(int batch) => 4 * (4 * Parameters + Buffers + batch * (2 * ActivationsPerSample) + Math.Min(batch, 16) * WorkPerSample * 2);

    /// <summary>Bytes for evaluating batches of <paramref name="batch"/>: weights, activations, scratch.</summary>
    public double InferenceBytes(int batch) => 4 * (Parameters + Buffers + batch * ActivationsPerSample + Math.Min(batch, 16) * WorkPerSample);

    /// <summary>The memory a model may take: ONGKO_MAX_MODEL_BYTES, else 80% of the memory this process may use.</summary>
    public static double MaxBytes =>
        long.TryParse(Environment.GetEnvironmentVariable("ONGKO_MAX_MODEL_BYTES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes) && bytes > 0
            ? bytes : 0.8 * GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Null when the model fits, else why not, with the numbers: a tensor beyond .NET's largest array, or an
    /// estimate over <see cref="MaxBytes"/> (or <paramref name="maxBytes"/>).
    /// </summary>
    public string? Problem(int batch, bool training, double? maxBytes = null)
    {
        double limit = maxBytes ?? MaxBytes;
        if (LargestParameter > Array.MaxLength)
            return $"one weight tensor would hold {LargestParameter:N0} values, more than the {Array.MaxLength:N0} an array can hold";
        if (LargestActivationPerSample * batch > Array.MaxLength)
            return $"one layer's output for a batch of {batch} would hold {LargestActivationPerSample * batch:N0} values, " +
                   $"more than the {Array.MaxLength:N0} an array can hold; use smaller images or batches";
        double bytes = training ? TrainingBytes(batch) : InferenceBytes(batch);
        if (bytes > limit)
            return $"the model needs about {Gib(bytes)} to {(training ? "train" : "run")} on batches of {batch} " +
                   $"({Parameters:N0} parameters, {ActivationsPerSample:N0} activation values per image), over the limit of {Gib(limit)} " +
                   "(set ONGKO_MAX_MODEL_BYTES to change it)";
        return null;
    }

    static string Gib(double bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (1L << 30):F1} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (1L << 20):F1} MiB");

    static double Product(double[] shape) => shape.Aggregate(1.0, (a, b) => a * b);
}
