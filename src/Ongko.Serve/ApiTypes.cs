using System.Text.Json.Serialization;

namespace Ongko.Serve;

/// <summary>The answer for one image.</summary>
/// <param name="Name">The multipart file name (batch), else null.</param>
/// <param name="Digit">The most probable class.</param>
/// <param name="Numeral">That class as a Bengali numeral (০-৯) for a ten-class model, else null.</param>
/// <param name="Confidence">Its probability.</param>
/// <param name="Probabilities">One per class, summing to 1.</param>
/// <param name="Milliseconds">Time to decode, prepare and classify this image on the server.</param>
/// <param name="Input">The model-sized image the model saw.</param>
public sealed record PredictionResponse(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    int Digit, string? Numeral, float Confidence, float[] Probabilities, double Milliseconds, ModelInput Input);

/// <summary>The model's input as a PNG (value × 255): what the model saw after the checkpoint's preprocessing.</summary>
public sealed record ModelInput(int Channels, int Height, int Width, string Png);

/// <summary>One image of a batch: a prediction, or an error saying why that image could not be classified.</summary>
public sealed record BatchItem(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PredictionResponse? Prediction,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

/// <summary>Answers for a batch, in the order the images were sent.</summary>
public sealed record BatchResponse(int Count, int Failed, double Milliseconds, IReadOnlyList<BatchItem> Results);

public sealed record HealthResponse(string Status, string Model, double UptimeSeconds);

/// <summary>Every 4xx/5xx answer: one line saying what was wrong.</summary>
public sealed record ErrorResponse(string Error);
