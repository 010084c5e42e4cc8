namespace Ongko.Training;

/// <summary>One epoch's numbers, as written to logs.csv, TensorBoard and the metrics plot.</summary>
public sealed record EpochResult(
    int Epoch, float LearningRate,
    double TrainLoss, double TrainAccuracy, double TrainMacroF1,
    double ValidLoss, double ValidAccuracy, double ValidMacroF1,
    double Seconds, double ImagesPerSecond, bool IsBest)
{
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

/// <summary>What a training run tells its user interface while it works.</summary>
public interface ITrainingObserver
{
    void RunStarted(TrainingRunInfo info) { }
    /// <summary>After every training step: running means over the epoch so far.</summary>
    void StepCompleted(int epoch, int step, int stepCount, double runningLoss, double runningAccuracy, double imagesPerSecond, TimeSpan elapsed) { }
    void EpochCompleted(EpochResult result, IReadOnlyList<EpochResult> history) { }
    void Message(string text) { }
}

/// <summary>Facts about a run as it starts.</summary>
public sealed record TrainingRunInfo(
    int TrainCount, int ValidCount, int FirstEpoch, int Epochs, long Parameters, string OutputDir, string DataDir);
