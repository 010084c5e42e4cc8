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
    static readonly JsonSerializerOptions json = Checkpoint.MetadataJson;

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

    /// <summary>
    /// The training state in a checkpoint's metadata, after <see cref="CheckpointMetadata.Validate"/> has range-checked
    /// the raw values; anything missing or unreadable is a <see cref="CheckpointException"/> naming the key.
    /// </summary>
    public static TrainingState ReadState(IReadOnlyDictionary<string, string> metadata, string path)
    {
        CheckpointMetadata.Validate(metadata, path);
        string Get(string key) => metadata.TryGetValue(key, out var value) ? value
            : throw new CheckpointException($"metadata '{key}' is missing; was this checkpoint written by 'ongko train'?", path);
        try
        {
            var partial = JsonSerializer.Deserialize<double[]>(metadata.GetValueOrDefault("partial", "[0,0]"), json) ?? [0, 0];
            return new TrainingState
            {
                CompletedEpochs = int.Parse(Get("epoch"), CultureInfo.InvariantCulture),
                StepsIntoEpoch = int.Parse(metadata.GetValueOrDefault("step", "0"), CultureInfo.InvariantCulture),
                LearningRate = float.Parse(Get("lr"), CultureInfo.InvariantCulture),
                ObserverStates = metadata.GetValueOrDefault("observer_keys", "scheduler").Split(',', StringSplitOptions.RemoveEmptyEntries)
                                         .Where(metadata.ContainsKey).ToDictionary(key => key, key => metadata[key]),
                BestValidMacroF1 = double.Parse(metadata.GetValueOrDefault("best_valid_macro_f1", "-Infinity"), CultureInfo.InvariantCulture),
                History = JsonSerializer.Deserialize<List<EpochResult>>(metadata.GetValueOrDefault("history", "[]"), json) ?? [],
                ConfigYaml = metadata.GetValueOrDefault("config", ""),
                Preprocessing = ReadPreprocessing(metadata, path) ?? throw new CheckpointException("metadata 'preprocessing' is missing; was this checkpoint written by 'ongko train'?", path),
                ClassCount = int.Parse(Get("num_class"), CultureInfo.InvariantCulture),
                PartialLossSum = partial[0],
                PartialSeen = (long)partial[1],
                PartialMatrix = JsonSerializer.Deserialize<long[]>(metadata.GetValueOrDefault("partial_matrix", "[]"), json) ?? [],
            };
        }
        catch (Exception e) when (e is FormatException or JsonException or OverflowException or ArgumentException or NotSupportedException)
        { throw new CheckpointException($"training state in the metadata cannot be read: {e.Message}", path); }
    }

    /// <summary>The preprocessing options recorded in a checkpoint, or null when it has none.</summary>
    public static AugmentOptions? ReadPreprocessing(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue("preprocessing", out var text)) return null;
        try
        {
            var options = JsonSerializer.Deserialize<AugmentOptions>(text, json) ?? throw new JsonException("'preprocessing' is null");
            options.Validate();
            return options;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException or InvalidOperationException or FormatException)
        { throw new CheckpointException($"training state in the metadata cannot be read: metadata 'preprocessing': {e.Message}", path); }
    }
}
