using Ongko.Vision;

namespace Ongko.Serve;

/// <summary>
/// What the server needs from a model, and all it knows of one: classify the bytes of one encoded image,
/// and describe itself. One instance is used by one request at a time (the server keeps a pool of them),
/// so an implementation need not be thread-safe. Bad images raise an <see cref="OngkoInputException"/>.
/// </summary>
public interface IRecognizer
{
    /// <summary>Decodes, prepares (the checkpoint's own preprocessing) and classifies one PNG or JPEG image.</summary>
    /// <param name="image">The encoded file.</param>
    /// <param name="name">Names the image in error messages.</param>
    /// <param name="maxPixels">Largest width × height the image's header may declare; checked before decoding.</param>
    Recognition Recognize(byte[] image, string name, long maxPixels);

    ModelDescription Describe();
}

/// <summary>One answer: a probability per class (summing to 1) and the image the model saw.</summary>
/// <param name="Probabilities">[classes]</param>
/// <param name="Input">The model-sized input as bytes (value × 255): [channels, height, width].</param>
public sealed record Recognition(float[] Probabilities, ByteImage Input);

/// <summary>What <c>GET /api/model</c> reports: the model card's facts.</summary>
public sealed record ModelDescription(
    string Name,
    long Parameters,
    int[] InputShape,
    int Classes,
    string[] Labels,
    IReadOnlyDictionary<string, string> Preprocessing,
    IReadOnlyList<string> Layers,
    TrainingSummary? Training,
    string? Card);

/// <summary>The training facts a checkpoint records.</summary>
public sealed record TrainingSummary(int Epochs, double? BestValidMacroF1, double? BestValidAccuracy, int? BestEpoch);
