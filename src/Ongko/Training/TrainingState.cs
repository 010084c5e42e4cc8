using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ongko.Data;
using Ongko.Serialization;

namespace Ongko.Training;

/// <summary>
/// What a checkpoint's __metadata__ holds besides the weights: where training stands (completed epochs,
/// steps into the next one, learning rate, scheduler, best score, history) and how to rebuild the
/// inputs (the resolved config and the preprocessing options). There is no generator state to save:
/// the loader derives every shuffle and augmentation from (seed, epoch, sample index).
/// </summary>
public sealed record TrainingState
{
    public int CompletedEpochs { get; init; }
    /// <summary>Steps already taken in epoch CompletedEpochs + 1 (non-zero only after Ctrl-C).</summary>
    public int StepsIntoEpoch { get; init; }
    public float LearningRate { get; init; }
    public string SchedulerState { get; init; } = "";
    public double BestValidMacroF1 { get; init; } = double.NegativeInfinity;
    public List<EpochResult> History { get; init; } = [];
    public string ConfigYaml { get; init; } = "";
    public AugmentOptions Preprocessing { get; init; } = new();
    public int ClassCount { get; init; } = 10;
    /// <summary>Running sums of an interrupted epoch, so its train metrics come out whole after resume.</summary>
    public double PartialLossSum { get; init; }
    public long PartialSeen { get; init; }
    public long[] PartialMatrix { get; init; } = [];

    static readonly JsonSerializerOptions json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public Dictionary<string, string> ToMetadata() => new()
    {
        ["epoch"] = CompletedEpochs.ToString(CultureInfo.InvariantCulture),
        ["step"] = StepsIntoEpoch.ToString(CultureInfo.InvariantCulture),
        ["lr"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["scheduler"] = SchedulerState,
        ["best_valid_macro_f1"] = BestValidMacroF1.ToString("R", CultureInfo.InvariantCulture),
        ["history"] = JsonSerializer.Serialize(History, json),
        ["config"] = ConfigYaml,
        ["preprocessing"] = JsonSerializer.Serialize(Preprocessing, json),
        ["num_class"] = ClassCount.ToString(CultureInfo.InvariantCulture),
        ["partial"] = JsonSerializer.Serialize(new[] { PartialLossSum, PartialSeen }, json),
        ["partial_matrix"] = JsonSerializer.Serialize(PartialMatrix, json),
    };

    public static TrainingState FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        CheckpointMetadata.Validate(metadata, path);
        string Get(string key) => metadata.TryGetValue(key, out var value) ? value
            : throw new CheckpointException($"{path}: metadata '{key}' is missing; was this checkpoint written by 'ongko train'?");
        try
        {
            var partial = JsonSerializer.Deserialize<double[]>(metadata.GetValueOrDefault("partial", "[0,0]"), json) ?? [0, 0];
            var preprocessing = JsonSerializer.Deserialize<AugmentOptions>(Get("preprocessing"), json) ?? throw new JsonException("'preprocessing' is null");
            preprocessing.Validate();
            return new TrainingState
            {
                CompletedEpochs = int.Parse(Get("epoch"), CultureInfo.InvariantCulture),
                StepsIntoEpoch = int.Parse(metadata.GetValueOrDefault("step", "0"), CultureInfo.InvariantCulture),
                LearningRate = float.Parse(Get("lr"), CultureInfo.InvariantCulture),
                SchedulerState = metadata.GetValueOrDefault("scheduler", ""),
                BestValidMacroF1 = double.Parse(metadata.GetValueOrDefault("best_valid_macro_f1", "-Infinity"), CultureInfo.InvariantCulture),
                History = JsonSerializer.Deserialize<List<EpochResult>>(metadata.GetValueOrDefault("history", "[]"), json) ?? [],
                ConfigYaml = metadata.GetValueOrDefault("config", ""),
                Preprocessing = preprocessing,
                ClassCount = int.Parse(Get("num_class"), CultureInfo.InvariantCulture),
                PartialLossSum = partial[0],
                PartialSeen = (long)partial[1],
                PartialMatrix = JsonSerializer.Deserialize<long[]>(metadata.GetValueOrDefault("partial_matrix", "[]"), json) ?? [],
            };
        }
        catch (Exception e) when (e is FormatException or JsonException or OverflowException or ArgumentException or NotSupportedException)
        { throw new CheckpointException($"{path}: training state in the metadata cannot be read: {e.Message}"); }
    }
}
