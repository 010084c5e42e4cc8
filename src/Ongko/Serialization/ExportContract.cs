using System.Globalization;
using Ongko.Data;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Training;

namespace Ongko.Serialization;

/// <summary>
/// What an exported model needs from its user besides the weights: the input it expects (shape, channels,
/// polarity, crop and resize, scale) and what its output means. Written as string pairs into the ONNX
/// model's metadata_props and the torch export's safetensors __metadata__ (keys documented in README "Export").
/// </summary>
public static class ExportContract
{
    /// <summary>
    /// The contract of <paramref name="model"/> trained with the checkpoint metadata <paramref name="metadata"/>
    /// (its "preprocessing" entry; a checkpoint without training state gives the shapes only).
    /// </summary>
    public static Dictionary<string, string> Describe(Sequential model, IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built before export");
        int[] input = model.InputShape;
        int classes = model.OutputShape[^1];
        string shape = $"[batch, {string.Join(", ", input)}]";
        var contract = new Dictionary<string, string>
        {
            ["producer"] = $"Ongko {typeof(ExportContract).Assembly.GetName().Version?.ToString(3)}",
            ["input"] = $"float32 {shape} named \"{OnnxExport.InputName}\" (NCHW: batch, channels, height, width)",
            ["input_shape"] = string.Join(",", input),
            ["output"] = model.EndsWithSoftmax
                ? $"float32 [batch, {classes}] named \"{OutputName(model)}\": softmax over the classes (each row sums to 1)"
                : $"float32 [batch, {classes}] named \"{OutputName(model)}\": scores before softmax (apply softmax for probabilities)",
            ["classes"] = classes.ToString(CultureInfo.InvariantCulture),
            ["labels"] = string.Join(",", Enumerable.Range(0, classes)),
        };
        if (!metadata.ContainsKey("preprocessing"))
        {
            contract["preprocessing"] = "unknown: the checkpoint records no preprocessing";
            return contract;
        }
        var options = TrainingCheckpoint.ReadPreprocessing(metadata, path)!;
        // The recorded numbers are range-checked and the class count must be what the model puts out.
        CheckpointMetadata.Validate(metadata, path);
        int recordedClasses = metadata.TryGetValue("num_class", out var classText) && int.TryParse(classText, CultureInfo.InvariantCulture, out int n) ? n : classes;
        CheckpointMetadata.CheckModel(recordedClasses, options, model, path, input: false);
        int channels = input.Length == 3 ? input[0] : options.Channels;
        if (options.Normalize == NormalizeMode.Digit)
        {
            // Ongko's own digit normalisation (normalize: digit) replaces reverse, use_bbox, opening and dilation.
            contract["polarity"] = "light digit on a dark background; normalize: digit decides per image which side is ink and inverts dark ink";
            contract["morphology"] = "none";
            contract["resize"] = "normalize: digit (Ongko's Vision/DigitLocator): grey, lighting flattened, the digit's regions found, " +
                $"a crop of the model's aspect around them with {Vision.DigitLocator.Margin:0.##} of their longer side free on each side, other ink zeroed, " +
                $"contrast stretched, then resized to {options.Height}x{options.Width} (height x width) with area interpolation (OpenCV INTER_AREA)";
        }
        else
        {
            contract["polarity"] = options.Reverse switch
            {
                ReverseMode.Off => "light digit on a dark background; images are used as given (reverse: off)",
                ReverseMode.On => "light digit on a dark background; every image is inverted first (reverse: on: the inputs are dark on light)",
                _ => "light digit on a dark background; an image whose border is light is inverted first (reverse: auto)",
            };
            var morphology = new List<string>();
            if (options.Opening) morphology.Add("5x5 opening");
            if (options.Dilation) morphology.Add("5x5 dilation");
            contract["morphology"] = morphology.Count == 0 ? "none" : string.Join(", then ", morphology) + " (after the polarity step)";
            contract["resize"] = (options.UseBoundingBox
                ? "cropped to the digit's box (Otsu threshold, 5x5 closing, largest 8-connected region), then"
                : "the whole image (no crop)") + $" resized to {options.Height}x{options.Width} (height x width) with area interpolation (OpenCV INTER_AREA)";
        }
        contract["channels"] = channels == 1
            ? "1: a colour image is converted to grey first"
            : $"{channels}: RGB; a grey image is repeated on every channel";
        contract["scale"] = "value = pixel / 255, in [0, 1]; no mean or standard-deviation normalisation";
        contract["preprocessing"] = metadata["preprocessing"];
        return contract;
    }

    /// <summary>"probabilities" when the model ends with Softmax, else "logits".</summary>
    public static string OutputName(Sequential model) => model.EndsWithSoftmax ? "probabilities" : "logits";

    /// <summary>Conv2D's kernel, stride and padding, read from its config arguments (in, out, kernel, stride, padding[, bias]).</summary>
    internal static (int Kernel, int Stride, int Padding) Settings(Conv2D conv)
    {
        int[] numbers = Numbers(conv, 5);
        return (numbers[2], numbers[3], numbers[4]);
    }

    /// <summary>MaxPool2D's window and stride (arguments: kernel, stride).</summary>
    internal static (int Kernel, int Stride) Settings(MaxPool2D pool)
    {
        int[] numbers = Numbers(pool, 2);
        return (numbers[0], numbers[1]);
    }

    static int[] Numbers(Layer layer, int count)
    {
        var parts = layer.Arguments.Split(", ");
        if (parts.Length < count) throw new InvalidOperationException($"{layer}: expected {count} arguments");
        return parts.Take(count).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The layer's tensors (parameters, then buffers) by their name within the layer ("weight", "running_mean").</summary>
    internal static IEnumerable<(string Name, Tensors.Tensor Value)> Tensors(Layer layer) =>
        layer.Parameters.Select(p => (p.Name, p.Value)).Concat(layer.Buffers);

    /// <summary>A layer this exporter does not know (every layer LayerFactory builds is known).</summary>
    internal static ModelSpecException Unsupported(Layer layer, int index, string format) =>
        new($"layer {index} {layer} cannot be exported to {format}");
}
