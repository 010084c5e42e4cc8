using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ongko.Data;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Serialization;

/// <summary>
/// Range checks of a checkpoint's training metadata, made on the raw strings before anything is built from
/// them: a crafted or damaged file must not make a resume loop for ever (epoch near int.MaxValue), train with
/// a NaN learning rate, or allocate a 3000x3000 input. Keys that are absent are left to the reader.
/// </summary>
public static class CheckpointMetadata
{
    /// <summary>Most epochs a checkpoint may record (a guard against crafted numbers, not a training limit).</summary>
    public const int MaxEpochs = 1_000_000;
    /// <summary>Largest class count a checkpoint may record.</summary>
    public const int MaxClasses = 100_000;
    /// <summary>Largest learning rate a checkpoint may record.</summary>
    public const float MaxLearningRate = 1000;

    /// <summary>Throws a <see cref="CheckpointException"/> naming the first key whose value is malformed or out of range.</summary>
    public static void Validate(IReadOnlyDictionary<string, string> metadata, string path)
    {
        CheckpointException Bad(string key, string problem) => new($"metadata '{key}' {problem}", path);
        string? Value(string key) => metadata.TryGetValue(key, out var value) ? value : null;
        int Int(string key, string text, int minimum, int maximum) =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= maximum
                ? value : throw Bad(key, $"is '{Clip(text)}', not a whole number in {minimum}..{maximum}");
        JsonNode? Json(string key, string text)
        {
            try { return JsonNode.Parse(text); }
            catch (JsonException e) { throw Bad(key, $"cannot be read ({e.Message})"); }
        }
        double Number(JsonNode? node, string key, string what) =>
            node is JsonValue v && v.GetValueKind() is JsonValueKind.Number ? v.GetValue<double>()
            : node is JsonValue s && s.GetValueKind() is JsonValueKind.String && double.TryParse(s.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out double named) ? named
            : throw Bad(key, $"is not {what}");

        int epoch = Value("epoch") is { } epochText ? Int("epoch", epochText, 0, MaxEpochs) : MaxEpochs;
        if (Value("step") is { } step) Int("step", step, 0, int.MaxValue / 2);
        if (Value("lr") is { } lrText && !(float.TryParse(lrText, NumberStyles.Float, CultureInfo.InvariantCulture, out float lr) && lr > 0 && lr <= MaxLearningRate))
            throw Bad("lr", $"is '{Clip(lrText)}', not a learning rate in (0, {MaxLearningRate}]");
        if (Value("best_valid_macro_f1") is { } bestText && !(double.TryParse(bestText, NumberStyles.Float, CultureInfo.InvariantCulture, out double best)
                                                             && (best == double.NegativeInfinity || best is >= 0 and <= 1)))
            throw Bad("best_valid_macro_f1", $"is '{Clip(bestText)}', not a score in [0, 1]");
        if (Value("scheduler") is { Length: > 0 } scheduler)
        {
            var parts = scheduler.Split(';');
            if (parts.Length != 2 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int bad) || bad < 0)
                throw Bad("scheduler", $"is '{Clip(scheduler)}', not 'best;bad_epochs'");
        }
        if (Value("history") is { } historyText)
        {
            if (Json("history", historyText) is not JsonArray history || history.Count > epoch
                || history.Any(row => row is not JsonObject o || Number(o["Epoch"], "history", "a list of epochs") is var e && (e < 1 || e > epoch)))
                throw Bad("history", $"does not describe epochs 1..{epoch}");
        }
        if (Value("preprocessing") is { } preprocessingText)
        {
            if (Json("preprocessing", preprocessingText) is not JsonObject preprocessing) throw Bad("preprocessing", "is not an object");
            foreach (string side in (string[])["Height", "Width"])
                if (preprocessing[side] is { } node && Number(node, "preprocessing", $"a {side.ToLowerInvariant()}") is var size && size > Checkpoint.MaxInputSide)
                    throw Bad("preprocessing", $"asks for images {size} pixels in {side.ToLowerInvariant()}, over {Checkpoint.MaxInputSide}");
        }
        int classes = Value("num_class") is { } classText ? Int("num_class", classText, 2, MaxClasses) : 0;
        if (Value("partial") is { } partialText)
        {
            if (Json("partial", partialText) is not JsonArray { Count: 2 } partial) throw Bad("partial", "is not [loss sum, image count]");
            double sum = Number(partial[0], "partial", "[loss sum, image count]"), seen = Number(partial[1], "partial", "[loss sum, image count]");
            if (!(double.IsFinite(sum) && sum >= 0 && seen >= 0 && seen <= long.MaxValue / 2 && seen == Math.Floor(seen)))
                throw Bad("partial", "is not [loss sum, image count]");
        }
        if (Value("partial_matrix") is { } matrixText)
        {
            if (Json("partial_matrix", matrixText) is not JsonArray matrix || (matrix.Count != 0 && matrix.Count != (long)classes * classes)
                || matrix.Any(v => !(Number(v, "partial_matrix", "a confusion matrix") >= 0)))
                throw Bad("partial_matrix", $"is not a {classes}x{classes} confusion matrix");
        }
    }

    /// <summary>The recorded class count (and, with <paramref name="input"/>, the preprocessing's image shape) must fit the model the checkpoint holds.</summary>
    public static void CheckModel(int classCount, AugmentOptions preprocessing, Sequential model, string path, bool input = true)
    {
        if (model.OutputShape is not [int outputs] || outputs != classCount)
            throw new CheckpointException($"metadata 'num_class' is {classCount} but the model puts out {Tensor.ShapeString(model.OutputShape)}", path);
        int[] images = [preprocessing.Channels, preprocessing.Height, preprocessing.Width];
        if (input && !model.InputShape.SequenceEqual(images))
            throw new CheckpointException($"metadata 'preprocessing' makes {Tensor.ShapeString(images)} images but the model takes {Tensor.ShapeString(model.InputShape)}", path);
    }

    static string Clip(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
