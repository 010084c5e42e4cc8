using System.Diagnostics;
using Ongko.Cli.Visuals;
using Ongko.Training;

namespace Ongko.Cli;

/// <summary>
/// Shows a training run in the terminal: a live one-line progress bar per epoch (step/total, elapsed,
/// ETA, running loss and accuracy, images/s) when stdout is a terminal, plain periodic lines otherwise
/// (CI logs, files); a summary line per epoch; and metrics.png redrawn after every epoch.
/// </summary>
public sealed class TrainingConsole(TextWriter output, bool interactive) : ITrainingObserver
{
    readonly Stopwatch sinceLastLine = Stopwatch.StartNew();

    /// <summary>Where metrics.png goes (the run's output folder).</summary>
    public string OutputDir { get; set; } = ".";
    /// <summary>Where the data comes from, for the first line.</summary>
    public string DataDescription { get; set; } = "";

    public static TrainingConsole ForStandardOutput() => new(Console.Out, !Console.IsOutputRedirected);

    public void RunStarted(TrainingRunInfo info)
    {
        output.WriteLine($"Training {info.Parameters:#,0} parameters on {info.TrainCount:#,0} images, validating on {info.ValidCount:#,0} " +
                         $"(data: {DataDescription}; output: {OutputDir}); epochs {info.FirstEpoch}..{info.Epochs}");
    }

    public void StepCompleted(int epoch, int step, int stepCount, double runningLoss, double runningAccuracy, double imagesPerSecond, TimeSpan elapsed)
    {
        var eta = step > 0 ? TimeSpan.FromSeconds(elapsed.TotalSeconds / step * (stepCount - step)) : TimeSpan.Zero;
        string numbers = $"{step,5}/{stepCount} {Clock(elapsed)}<{Clock(eta)} loss {runningLoss:F4} acc {runningAccuracy:P2} {imagesPerSecond,6:F0} img/s";
        if (interactive)
        {
            const int width = 24;
            int filled = stepCount == 0 ? width : step * width / stepCount;
            output.Write($"\repoch {epoch,3} [{new string('#', filled)}{new string('.', width - filled)}] {numbers}  ");
            if (step == stepCount) output.Write('\r' + new string(' ', 110) + '\r');
        }
        else if (step == stepCount || sinceLastLine.Elapsed.TotalSeconds >= 15)
        {
            output.WriteLine($"epoch {epoch,3} {numbers}");
            sinceLastLine.Restart();
        }
    }

    public void EpochCompleted(EpochResult r, IReadOnlyList<EpochResult> history)
    {
        output.WriteLine($"epoch {r.Epoch,3}  lr {r.LearningRate:G4}  train loss {r.TrainLoss:F4} acc {r.TrainAccuracy:P2} F1 {r.TrainMacroF1:F4}  " +
                         $"valid loss {r.ValidLoss:F4} acc {r.ValidAccuracy:P2} F1 {r.ValidMacroF1:F4}  {r.Seconds:F1}s {r.ImagesPerSecond:F0} img/s" +
                         (r.IsBest ? "  * best" : ""));
        MetricsPlot.Write(Path.Combine(OutputDir, "metrics.png"), history.Select(h => h.Epoch).ToList(),
            history.Select(h => h.TrainLoss).ToList(), history.Select(h => h.ValidLoss).ToList(),
            history.Select(h => h.TrainAccuracy).ToList(), history.Select(h => h.ValidAccuracy).ToList(),
            history.Select(h => h.TrainMacroF1).ToList(), history.Select(h => h.ValidMacroF1).ToList());
    }

    public void Message(string text)
    {
        if (interactive) output.Write('\r' + new string(' ', 110) + '\r');
        output.WriteLine(text);
    }

    static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss") : t.ToString(@"mm\:ss");
}
