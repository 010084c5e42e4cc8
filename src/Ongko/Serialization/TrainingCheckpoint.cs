using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ongko.Data;
using Ongko.Models;
using Ongko.Training;

namespace Ongko.Serialization;

/// <summary>
/// A checkpoint of a training run: <see cref="Checkpoint"/>'s weights and optimizer state plus the
/// <see cref="TrainingState"/> (epoch, step, learning rate, observer states, history, config, preprocessing) in the metadata.
/// </summary>
public static class TrainingCheckpoint
{
    static readonly JsonSerializerOptions json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes <paramref name="snapshot"/> to <paramref name="path"/> (atomically).</summary>
    public static void Save(string path, TrainingSnapshot snapshot) =>
        Checkpoint.Save(path, snapshot.Model, ToMetadata(snapshot.State), snapshot.Optimizer);

    /// <summary>Loads weights and optimizer state into a built model and optimizer; returns where training stood.</summary>
    public static TrainingState Restore(string path, Sequential model, Optimizer optimizer)
    {
        var content = Checkpoint.Read(path);
        var state = ReadState(content.Metadata, path);
        Checkpoint.LoadWeights(path, content, model, optimizer);
        return state;
    }

    public static Dictionary<string, string> ToMetadata(TrainingState state)
    {
        var metadata = new Dictionary<string, string>
        {
            ["epoch"] = state.CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["step"] = state.StepsIntoEpoch.ToString(CultureInfo.InvariantCulture),
            ["lr"] = state.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["best_valid_macro_f1"] = state.BestValidMacroF1.ToString("R", CultureInfo.InvariantCulture),
            ["history"] = JsonSerializer.Serialize(state.History, json),
            ["config"] = state.ConfigYaml,
            ["preprocessing"] = JsonSerializer.Serialize(state.Preprocessing, json),
            ["num_class"] = state.ClassCount.ToString(CultureInfo.InvariantCulture),
            ["partial"] = JsonSerializer.Serialize(new[] { state.PartialLossSum, state.PartialSeen }, json),
            ["partial_matrix"] = JsonSerializer.Serialize(state.PartialMatrix, json),
        };
        foreach (var (key, value) in state.ObserverStates) metadata[key] = value;
        if (state.ObserverStates.Count > 0) metadata["observer_keys"] = string.Join(",", state.ObserverStates.Keys);
        return metadata;
    }

    /// <summary>Most epochs a checkpoint may record (a guard against crafted numbers, not a training limit).</summary>
    public const int MaxEpochs = 1_000_000;
    /// <summary>Largest class count a checkpoint may record.</summary>
    public const int MaxClasses = 100_000;
    /// <summary>Largest learning rate a checkpoint may record.</summary>
    public const float MaxLearningRate = 1000;

    /// <summary>
    /// The training state in a checkpoint's metadata. Reads and checks every number; anything missing, malformed or
    /// out of range is a <see cref="CheckpointException"/> naming the key.
    /// </summary>
    public static TrainingState ReadState(IReadOnlyDictionary<string, string> metadata, string path)
    {
        string Get(string key) => metadata.TryGetValue(key, out var value) ? value
            : throw new CheckpointException($"metadata '{key}' is missing; was this checkpoint written by 'ongko train'?", path);
        CheckpointException Bad(string key, string problem) => new($"metadata '{key}' {problem}", path);
        int Int(string key, string text, int minimum, int maximum) =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= maximum
                ? value : throw Bad(key, $"is '{Clip(text)}', not a whole number in {minimum}..{maximum}");
        T Json<T>(string key, string text) where T : class
        {
            try { return JsonSerializer.Deserialize<T>(text, json) ?? throw Bad(key, "is null"); }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException or FormatException)
            { throw Bad(key, $"cannot be read ({e.Message})"); }
        }

        int epoch = Int("epoch", Get("epoch"), 0, MaxEpochs);
        int step = Int("step", metadata.GetValueOrDefault("step", "0"), 0, int.MaxValue / 2);
        string lrText = Get("lr");
        if (!float.TryParse(lrText, NumberStyles.Float, CultureInfo.InvariantCulture, out float lr) || !(lr > 0 && lr <= MaxLearningRate))
            throw Bad("lr", $"is '{Clip(lrText)}', not a learning rate in (0, {MaxLearningRate}]");
        string bestText = metadata.GetValueOrDefault("best_valid_macro_f1", "-Infinity");
        if (!double.TryParse(bestText, NumberStyles.Float, CultureInfo.InvariantCulture, out double best)
            || !(best == double.NegativeInfinity || best is >= 0 and <= 1))
            throw Bad("best_valid_macro_f1", $"is '{Clip(bestText)}', not a score in [0, 1]");
        var observerStates = metadata.GetValueOrDefault("observer_keys", "scheduler").Split(',', StringSplitOptions.RemoveEmptyEntries)
                                     .Where(metadata.ContainsKey).ToDictionary(key => key, key => metadata[key]);
        if (observerStates.TryGetValue("scheduler", out var scheduler) && scheduler.Length > 0)
        {
            try { new ReduceLROnPlateau(0.1f, 0, 0, 0).LoadState(scheduler); }
            catch (FormatException) { throw Bad("scheduler", $"is '{Clip(scheduler)}', not 'best;bad_epochs'"); }
        }
        var history = Json<List<EpochResult>>("history", metadata.GetValueOrDefault("history", "[]"));
        if (history.Count > epoch || history.Any(h => h is null || h.Epoch < 1 || h.Epoch > epoch))
            throw Bad("history", $"does not describe epochs 1..{epoch}");
        var preprocessing = ReadPreprocessing(metadata, path) ?? throw Bad("preprocessing", "is missing; was this checkpoint written by 'ongko train'?");
        int classes = Int("num_class", Get("num_class"), 2, MaxClasses);
        var partial = Json<double[]>("partial", metadata.GetValueOrDefault("partial", "[0,0]"));
        if (partial.Length != 2 || !double.IsFinite(partial[0]) || partial[0] < 0 || !(partial[1] >= 0 && partial[1] <= long.MaxValue / 2 && partial[1] == Math.Floor(partial[1])))
            throw Bad("partial", "is not [loss sum, image count]");
        var matrix = Json<long[]>("partial_matrix", metadata.GetValueOrDefault("partial_matrix", "[]"));
        if ((matrix.Length != 0 && matrix.Length != (long)classes * classes) || matrix.Any(v => v < 0))
            throw Bad("partial_matrix", $"is not a {classes}x{classes} confusion matrix");
        return new TrainingState
        {
            CompletedEpochs = epoch, StepsIntoEpoch = step, LearningRate = lr, ObserverStates = observerStates, BestValidMacroF1 = best,
            History = history, ConfigYaml = metadata.GetValueOrDefault("config", ""), Preprocessing = preprocessing, ClassCount = classes,
            PartialLossSum = partial[0], PartialSeen = (long)partial[1], PartialMatrix = matrix,
        };
    }

    /// <summary>The recorded class count and preprocessing must fit the model the checkpoint holds.</summary>
    public static void CheckModel(TrainingState state, Sequential model, string path)
    {
        if (model.OutputShape is not [int outputs] || outputs != state.ClassCount)
            throw new CheckpointException($"metadata 'num_class' is {state.ClassCount} but the model puts out {Tensors.Tensor.ShapeString(model.OutputShape)}", path);
        int[] input = [state.Preprocessing.Channels, state.Preprocessing.Height, state.Preprocessing.Width];
        if (!model.InputShape.SequenceEqual(input))
            throw new CheckpointException($"metadata 'preprocessing' makes {Tensors.Tensor.ShapeString(input)} images but the model takes {Tensors.Tensor.ShapeString(model.InputShape)}", path);
    }

    static string Clip(string text) => text.Length <= 40 ? text : text[..40] + "...";

    /// <summary>The preprocessing options recorded in a checkpoint, or null when it has none.</summary>
    public static AugmentOptions? ReadPreprocessing(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue("preprocessing", out var text)) return null;
        try
        {
            var options = JsonSerializer.Deserialize<AugmentOptions>(text, json) ?? throw new CheckpointException("metadata 'preprocessing' is null", path);
            options.Validate();
            if (options.Height > Checkpoint.MaxInputSide || options.Width > Checkpoint.MaxInputSide)
                throw new CheckpointException($"metadata 'preprocessing' asks for {options.Height}x{options.Width} images, over {Checkpoint.MaxInputSide} pixels a side", path);
            return options;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException or InvalidOperationException or FormatException)
        { throw new CheckpointException($"metadata 'preprocessing' {(e is ArgumentException ? e.Message : $"cannot be read ({e.Message})")}", path); }
    }
}
