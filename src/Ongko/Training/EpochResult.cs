namespace Ongko.Training;

/// <summary>One epoch's numbers, as written to logs.csv, TensorBoard and the metrics plot.</summary>
public sealed record EpochResult(
    int Epoch, float LearningRate,
    double TrainLoss, double TrainAccuracy, double TrainMacroF1,
    double ValidLoss, double ValidAccuracy, double ValidMacroF1,
    double Seconds, double ImagesPerSecond, bool IsBest)
{
    /// <summary>The macro-F1 that picks the best epoch and drives the plateau rule: validation's, or training's without validation data (not saved).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double SelectionMacroF1 { get; init; }

    public const string CsvHeader = "epoch,lr,train_loss,train_accuracy,train_macro_f1,valid_loss,valid_accuracy,valid_macro_f1,seconds,images_per_second";

    public string ToCsv() => string.Join(",", new object[]
    {
        Epoch, LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        F(TrainLoss), F(TrainAccuracy), F(TrainMacroF1), F(ValidLoss), F(ValidAccuracy), F(ValidMacroF1),
        Seconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture),
        ImagesPerSecond.ToString("F1", System.Globalization.CultureInfo.InvariantCulture),
    });

    static string F(double value) => value.ToString("F6", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// What <see cref="Trainer.Fit"/> tells the code that watches it: progress, the end of each epoch (where the
/// learning rate may still be changed: the plateau rule), the state a checkpoint should hold, and notes.
/// Every method has an empty default; observers are called in the order given.
/// </summary>
public interface ITrainingObserver
{
    void RunStarted(TrainingRunInfo info) { }
    /// <summary>After every training step: running means over the epoch so far.</summary>
    void StepCompleted(int epoch, int step, int stepCount, double runningLoss, double runningAccuracy, double imagesPerSecond, TimeSpan elapsed) { }
    /// <summary>After validation, before the epoch's state is fixed: may change <paramref name="optimizer"/>'s learning rate; returns a note to show, or null.</summary>
    string? EpochEnding(EpochResult result, Optimizer optimizer) => null;
    /// <summary>The state after an epoch (or at an interruption): what a checkpoint holds.</summary>
    void StateReached(TrainingSnapshot snapshot) { }
    void EpochCompleted(EpochResult result, IReadOnlyList<EpochResult> history) { }
    void Message(string text) { }
}

/// <summary>
/// An observer that also sees every validation batch with its class probabilities [Count, classes] (valid only during
/// the call), before that epoch's <see cref="ITrainingObserver.EpochCompleted"/>: e.g. the run report's worst mistakes.
/// </summary>
public interface IValidationObserver : ITrainingObserver
{
    void ValidationBatch(int epoch, Data.Batch batch, ReadOnlySpan<float> probabilities);
}

/// <summary>An observer whose state must survive a resume (saved in checkpoints under <see cref="StateKey"/>).</summary>
public interface IStatefulObserver : ITrainingObserver
{
    string StateKey { get; }
    string SaveState();
    void LoadState(string state);
}

/// <summary>The model, optimizer and training state at the end of an epoch (<see cref="IsBest"/>: best selection macro-F1 so far) or at an interruption.</summary>
public sealed record TrainingSnapshot(Models.Sequential Model, Optimizer Optimizer, TrainingState State, bool IsBest, bool Interrupted);

/// <summary>Facts about a run as it starts.</summary>
public sealed record TrainingRunInfo(int TrainCount, int ValidCount, int FirstEpoch, int Epochs, long Parameters);
