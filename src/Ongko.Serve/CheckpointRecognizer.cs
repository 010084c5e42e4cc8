using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Serve;

/// <summary>
/// An <see cref="IRecognizer"/> over an Ongko checkpoint: its own model, in evaluation mode, and its own
/// preprocessing (as <c>ongko predict</c> applies it). Each instance owns a model and its buffers.
/// </summary>
public sealed class CheckpointRecognizer : IRecognizer
{
    readonly Sequential model;
    readonly ImagePipeline pipeline;
    readonly ModelDescription description;
    readonly Tensor input;

    CheckpointRecognizer(Sequential model, AugmentOptions preprocessing, ModelDescription description)
    {
        this.model = model;
        pipeline = new ImagePipeline(preprocessing);
        this.description = description;
        input = new Tensor([1, .. model.InputShape]);
    }

    /// <summary>Reads the checkpoint once and builds <paramref name="count"/> independent recognizers from it.</summary>
    /// <param name="cardPath">A Markdown model card to show with the model, or null.</param>
    public static IReadOnlyList<IRecognizer> Load(string path, int count, string? cardPath)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var content = Checkpoint.Read(path);
        var state = TrainingCheckpoint.ReadState(content.Metadata, path);
        var preprocessing = state.Preprocessing.Clone();
        preprocessing.Augment = false;
        string? card = cardPath is null ? null : InputFiles.ReadAllText(cardPath, InputKind.Config, problem => new DataException(problem, cardPath));
        var recognizers = new List<IRecognizer>(count);
        for (int i = 0; i < count; i++)
        {
            var model = Checkpoint.LoadModel(path, content);
            CheckpointMetadata.CheckModel(state.ClassCount, state.Preprocessing, model, path);
            recognizers.Add(new CheckpointRecognizer(model, preprocessing, Describe(path, model, content.Metadata, state, card)));
        }
        return recognizers;
    }

    public ModelDescription Describe() => description;

    public Recognition Recognize(byte[] image, string name, long maxPixels)
    {
        var options = pipeline.Options;
        var decoded = ImageDecoder.Decode(image, options.Channels, name, compact: true, maxPixels: maxPixels);
        if (decoded.Channels > options.Channels) decoded = new ByteImage(1, decoded.Height, decoded.Width, decoded.ToGrey());
        pipeline.Process(decoded, rng: null, input.Span);

        var output = model.Forward(input, training: false).Span;
        var probabilities = new float[output.Length];
        if (model.EndsWithSoftmax) output.CopyTo(probabilities);
        else System.Numerics.Tensors.TensorPrimitives.SoftMax(output, probabilities);
        return new Recognition(probabilities, ToBytes(input.Span, model.InputShape));
    }

    /// <summary>Model input in [0, 1] back to bytes, [channels, height, width].</summary>
    static ByteImage ToBytes(ReadOnlySpan<float> values, int[] shape)
    {
        var image = new ByteImage(shape[0], shape[1], shape[2]);
        for (int i = 0; i < image.Data.Length; i++) image.Data[i] = (byte)Math.Clamp(MathF.Round(values[i] * 255f), 0f, 255f);
        return image;
    }

    static ModelDescription Describe(string path, Sequential model, IReadOnlyDictionary<string, string> metadata, TrainingState state, string? card)
    {
        var contract = ExportContract.Describe(model, metadata, path);
        var best = state.History.Where(e => e.IsBest).DefaultIfEmpty(state.History.LastOrDefault()).Last();
        var training = state.CompletedEpochs == 0 && state.History.Count == 0 ? null
            : new TrainingSummary(state.CompletedEpochs, best?.ValidMacroF1, best?.ValidAccuracy, best?.Epoch);
        string[] keep = ["input", "output", "polarity", "channels", "morphology", "resize", "scale"];
        return new ModelDescription(
            Name: Path.GetFileName(path),
            Parameters: model.ParameterCount,
            InputShape: model.InputShape,
            Classes: state.ClassCount,
            Labels: Enumerable.Range(0, state.ClassCount).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            Preprocessing: keep.Where(contract.ContainsKey).ToDictionary(k => k, k => contract[k])
                               .Append(KeyValuePair.Create("reverse", state.Preprocessing.Reverse.ToString().ToLowerInvariant())).ToDictionary(),
            Layers: LayerSpecRows(model),
            Training: training,
            Card: card);
    }

    static IReadOnlyList<string> LayerSpecRows(Sequential model) =>
        model.Layers.Select(layer => layer.ToString() ?? layer.GetType().Name).ToList();
}
