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

    /// <summary>Most epochs a checkpoint may record (a guard against crafted numbers, not a training limit).</summary>
    public const int MaxEpochs = 1_000_000;
    /// <summary>Largest class count a checkpoint may record.</summary>
    public const int MaxClasses = 100_000;
    /// <summary>Largest learning rate a checkpoint may record.</summary>
    public const float MaxLearningRate = 1000;

    /// <summary>Reads and checks every number; anything malformed or out of range is a <see cref="CheckpointException"/> naming the key.</summary>
    public static TrainingState FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        string Get(string key) => metadata.TryGetValue(key, out var value) ? value
            : throw new CheckpointException($"{path}: metadata '{key}' is missing; was this checkpoint written by 'ongko train'?");
        CheckpointException Bad(string key, string problem) => new($"{path}: metadata '{key}' {problem}");
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
        string scheduler = metadata.GetValueOrDefault("scheduler", "");
        if (scheduler.Length > 0)
        {
            try { new ReduceLROnPlateau(0.1f, 0, 0, 0).LoadState(scheduler); }
            catch (FormatException) { throw Bad("scheduler", $"is '{Clip(scheduler)}', not 'best;bad_epochs'"); }
        }
        var history = Json<List<EpochResult>>("history", metadata.GetValueOrDefault("history", "[]"));
        if (history.Count > epoch || history.Any(h => h is null || h.Epoch < 1 || h.Epoch > epoch))
            throw Bad("history", $"does not describe epochs 1..{epoch}");
        var preprocessing = Json<AugmentOptions>("preprocessing", Get("preprocessing"));
        try { preprocessing.Validate(); }
        catch (ArgumentException e) { throw Bad("preprocessing", e.Message); }
        if (preprocessing.Height > Checkpoint.MaxInputSide || preprocessing.Width > Checkpoint.MaxInputSide)
            throw Bad("preprocessing", $"asks for {preprocessing.Height}x{preprocessing.Width} images, over {Checkpoint.MaxInputSide} pixels a side");
        int classes = Int("num_class", Get("num_class"), 2, MaxClasses);
        var partial = Json<double[]>("partial", metadata.GetValueOrDefault("partial", "[0,0]"));
        if (partial.Length != 2 || !double.IsFinite(partial[0]) || partial[0] < 0 || !(partial[1] >= 0 && partial[1] <= long.MaxValue / 2 && partial[1] == Math.Floor(partial[1])))
            throw Bad("partial", "is not [loss sum, image count]");
        var matrix = Json<long[]>("partial_matrix", metadata.GetValueOrDefault("partial_matrix", "[]"));
        if ((matrix.Length != 0 && matrix.Length != (long)classes * classes) || matrix.Any(v => v < 0))
            throw Bad("partial_matrix", $"is not a {classes}x{classes} confusion matrix");
        return new TrainingState
        {
            CompletedEpochs = epoch, StepsIntoEpoch = step, LearningRate = lr, SchedulerState = scheduler, BestValidMacroF1 = best,
            History = history, ConfigYaml = metadata.GetValueOrDefault("config", ""), Preprocessing = preprocessing, ClassCount = classes,
            PartialLossSum = partial[0], PartialSeen = (long)partial[1], PartialMatrix = matrix,
        };
    }

    /// <summary>The recorded class count and preprocessing must fit the model the checkpoint holds.</summary>
    public void CheckModel(Models.Sequential model, string path)
    {
        if (model.OutputShape is not [int outputs] || outputs != ClassCount)
            throw new CheckpointException($"{path}: metadata 'num_class' is {ClassCount} but the model puts out {Tensors.Tensor.ShapeString(model.OutputShape)}");
        int[] input = [Preprocessing.Channels, Preprocessing.Height, Preprocessing.Width];
        if (!model.InputShape.SequenceEqual(input))
            throw new CheckpointException($"{path}: metadata 'preprocessing' makes {Tensors.Tensor.ShapeString(input)} images but the model takes {Tensors.Tensor.ShapeString(model.InputShape)}");
    }

    static string Clip(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
