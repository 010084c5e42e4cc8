using System.Globalization;
using Ongko.Data;
using Ongko.Prediction;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Serve;

/// <summary>
/// An <see cref="IRecognizer"/> over the library's <see cref="DigitClassifier"/>: any Ongko checkpoint, its model and its
/// own preprocessing. The image is decoded here (with the server's pixel limit) and prepared with the classifier's
/// preprocessing, so the prepared input can be returned; the classifier runs the model. Instances share one classifier
/// (thread-safe) and each keeps its own input buffer.
/// </summary>
public sealed class ClassifierRecognizer : IRecognizer
{
    readonly DigitClassifier classifier;
    readonly ImagePipeline pipeline;
    readonly ModelDescription description;
    readonly Tensor input;

    ClassifierRecognizer(DigitClassifier classifier, ModelDescription description)
    {
        this.classifier = classifier;
        pipeline = new ImagePipeline(classifier.Preprocessing);
        this.description = description;
        input = new Tensor([1, .. classifier.InputShape]);
    }

    /// <summary>Loads the checkpoint once and makes <paramref name="count"/> recognizers on it.</summary>
    /// <param name="cardPath">A Markdown model card to show with the model, or null.</param>
    public static IReadOnlyList<IRecognizer> Load(string path, int count, string? cardPath)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var classifier = DigitClassifier.Load(path);
        string? card = cardPath is null ? null : InputFiles.ReadAllText(cardPath, InputKind.Config, problem => new DataException(problem, cardPath));
        var description = Describe(path, classifier, card);
        return Enumerable.Range(0, count).Select(_ => (IRecognizer)new ClassifierRecognizer(classifier, description)).ToList();
    }

    public ModelDescription Describe() => description;

    public Recognition Recognize(byte[] image, string name, long maxPixels)
    {
        var decoded = ImageDecoder.Decode(image, pipeline.Options.Channels, name, compact: true, maxPixels: maxPixels);
        pipeline.Process(pipeline.ToInputChannels(decoded), rng: null, input.Span);
        var prediction = classifier.ClassifyPrepared(input)[0];
        return new Recognition(prediction.Probabilities, ByteImage.FromUnitFloats(input.Span, classifier.InputShape[0], classifier.InputShape[1], classifier.InputShape[2]));
    }

    /// <summary>The model card's facts, from the checkpoint's metadata (training results when it was written by training).</summary>
    static ModelDescription Describe(string path, DigitClassifier classifier, string? card)
    {
        var content = Checkpoint.Read(path);
        var model = Checkpoint.LoadModel(path, content);
        var contract = ExportContract.Describe(model, content.Metadata, path);
        TrainingSummary? training = null;
        if (content.Metadata.ContainsKey("epoch") && content.Metadata.ContainsKey("lr"))
        {
            var state = TrainingCheckpoint.ReadState(content.Metadata, path);
            var best = state.History.Where(e => e.IsBest).DefaultIfEmpty(state.History.LastOrDefault()).Last();
            training = new TrainingSummary(state.CompletedEpochs, best?.ValidMacroF1, best?.ValidAccuracy, best?.Epoch);
        }
        string[] keep = ["input", "output", "polarity", "channels", "morphology", "resize", "scale"];
        var preprocessing = keep.Where(contract.ContainsKey).ToDictionary(k => k, k => contract[k]);
        preprocessing["reverse"] = classifier.Preprocessing.Reverse.ToString().ToLowerInvariant();
        return new ModelDescription(
            Name: Path.GetFileName(path),
            Parameters: model.ParameterCount,
            InputShape: classifier.InputShape,
            Classes: classifier.ClassCount,
            Labels: Enumerable.Range(0, classifier.ClassCount).Select(c => c.ToString(CultureInfo.InvariantCulture)).ToArray(),
            Preprocessing: preprocessing,
            Layers: model.Layers.Select(layer => layer.ToString()).ToList(),
            Training: training,
            Card: card);
    }
}
