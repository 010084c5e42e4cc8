using ScottPlot;
using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>
/// The training curves in one PNG, drawn with ScottPlot: three panels side by side (loss,
/// accuracy, macro-F1), each with train and validation against the epoch.
/// </summary>
public static class MetricsPlot
{
    public const int PanelWidth = 520;
    public const int PanelHeight = 420;

    static readonly Color TrainColor = Color.FromHex("#1f77b4");
    static readonly Color ValidColor = Color.FromHex("#d62728");

    /// <summary>
    /// Writes the curves to <paramref name="path"/> (atomically). Every series has one value per
    /// epoch; a validation series may be empty (no validation set), and NaN marks a missing value.
    /// </summary>
    public static void Write(string path, IReadOnlyList<int> epochs,
                             IReadOnlyList<double> trainLoss, IReadOnlyList<double> validLoss,
                             IReadOnlyList<double> trainAccuracy, IReadOnlyList<double> validAccuracy,
                             IReadOnlyList<double> trainMacroF1, IReadOnlyList<double> validMacroF1)
    {
        using var bitmap = Render(epochs, trainLoss, validLoss, trainAccuracy, validAccuracy, trainMacroF1, validMacroF1);
        PngFile.Write(path, bitmap);
    }

    /// <summary>Draws the three panels into a new bitmap (the caller disposes it).</summary>
    public static SKBitmap Render(IReadOnlyList<int> epochs,
                                  IReadOnlyList<double> trainLoss, IReadOnlyList<double> validLoss,
                                  IReadOnlyList<double> trainAccuracy, IReadOnlyList<double> validAccuracy,
                                  IReadOnlyList<double> trainMacroF1, IReadOnlyList<double> validMacroF1)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        if (epochs.Count == 0) throw new ArgumentException("the metrics plot needs at least one epoch", nameof(epochs));
        Check(trainLoss, epochs.Count, nameof(trainLoss)); Check(validLoss, epochs.Count, nameof(validLoss));
        Check(trainAccuracy, epochs.Count, nameof(trainAccuracy)); Check(validAccuracy, epochs.Count, nameof(validAccuracy));
        Check(trainMacroF1, epochs.Count, nameof(trainMacroF1)); Check(validMacroF1, epochs.Count, nameof(validMacroF1));
        VisualFonts.UseInScottPlot();

        double[] xs = epochs.Select(e => (double)e).ToArray();
        var panels = new[]
        {
            Panel("Loss", "cross-entropy loss", xs, trainLoss, validLoss, unitRange: false),
            Panel("Accuracy", "accuracy", xs, trainAccuracy, validAccuracy, unitRange: true),
            Panel("Macro-F1", "macro-F1", xs, trainMacroF1, validMacroF1, unitRange: true),
        };

        var bitmap = new SKBitmap(new SKImageInfo(PanelWidth * panels.Length, PanelHeight, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        // Each panel renders into its own bitmap (a plot paints its whole canvas), then is placed side by side.
        for (int i = 0; i < panels.Length; i++)
        {
            using var panel = new SKBitmap(new SKImageInfo(PanelWidth, PanelHeight, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var panelCanvas = new SKCanvas(panel))
            {
                panels[i].Render(panelCanvas, PanelWidth, PanelHeight);
                panelCanvas.Flush();
            }
            canvas.DrawBitmap(panel, i * PanelWidth, 0);
            panels[i].Dispose();   // a Plot holds native Skia objects: freed now, not whenever a finalizer runs
        }
        canvas.Flush();
        return bitmap;
    }

    static void Check(IReadOnlyList<double> series, int epochCount, string name)
    {
        ArgumentNullException.ThrowIfNull(series, name);
        if (series.Count != 0 && series.Count != epochCount)
            throw new ArgumentException($"{name} has {series.Count} values for {epochCount} epochs", name);
    }

    static Plot Panel(string title, string yLabel, double[] xs, IReadOnlyList<double> train, IReadOnlyList<double> valid, bool unitRange)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        Add(plot, xs, train, "train", TrainColor, LinePattern.Solid);
        Add(plot, xs, valid, "validation", ValidColor, LinePattern.Dashed);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.AutoScale();
        if (xs.Length == 1) plot.Axes.SetLimitsX(xs[0] - 1, xs[0] + 1);
        if (unitRange)
        {
            var limits = plot.Axes.GetLimits();
            double low = Math.Max(0, double.IsFinite(limits.Bottom) ? limits.Bottom : 0);
            double high = Math.Min(1.0, double.IsFinite(limits.Top) ? limits.Top : 1);
            if (high - low < 0.02) { low = Math.Max(0, high - 0.02); high = Math.Min(1, low + 0.02); }
            plot.Axes.SetLimitsY(low - (high - low) * 0.05, Math.Min(1.005, high + (high - low) * 0.05));
        }
        plot.ShowLegend(unitRange ? Alignment.LowerRight : Alignment.UpperRight);
        return plot;
    }

    static void Add(Plot plot, double[] xs, IReadOnlyList<double> ys, string label, Color color, LinePattern pattern)
    {
        if (ys.Count == 0) return;
        var scatter = plot.Add.Scatter(xs, ys.ToArray());
        scatter.LegendText = label;
        scatter.Color = color;
        scatter.LineWidth = 2;
        scatter.MarkerSize = xs.Length <= 40 ? 6 : 0;
        scatter.LinePattern = pattern;
    }
}
