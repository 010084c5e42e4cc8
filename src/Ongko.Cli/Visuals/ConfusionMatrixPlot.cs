using ScottPlot;
using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>
/// A confusion matrix as a heatmap drawn with ScottPlot: true class down the rows, predicted class
/// across the columns, the count written in every cell, the colour the fraction of the true
/// class (so rare classes read as clearly as common ones), and the accuracy in the title.
/// </summary>
public static class ConfusionMatrixPlot
{
    /// <summary>Writes the heatmap of <paramref name="matrix"/>[true, predicted] to <paramref name="path"/> (atomically).</summary>
    public static void Write(string path, int[,] matrix, string[] classNames)
    {
        using var bitmap = Render(matrix, classNames);
        PngFile.Write(path, bitmap);
    }

    /// <summary>Draws the heatmap into a new bitmap (the caller disposes it).</summary>
    public static SKBitmap Render(int[,] matrix, string[] classNames)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(classNames);
        int n = matrix.GetLength(0);
        if (n == 0 || matrix.GetLength(1) != n)
            throw new ArgumentException($"a confusion matrix must be square and non-empty, got {matrix.GetLength(0)}x{matrix.GetLength(1)}", nameof(matrix));
        if (classNames.Length != n)
            throw new ArgumentException($"{classNames.Length} class names for a {n}x{n} matrix", nameof(classNames));
        VisualFonts.UseInScottPlot();

        long total = 0, correct = 0;
        var fractions = new double[n, n];
        for (int t = 0; t < n; t++)
        {
            long rowTotal = 0;
            for (int p = 0; p < n; p++)
            {
                if (matrix[t, p] < 0) throw new ArgumentException($"negative count {matrix[t, p]} at [{t}, {p}]", nameof(matrix));
                rowTotal += matrix[t, p];
            }
            for (int p = 0; p < n; p++) fractions[t, p] = rowTotal == 0 ? 0 : (double)matrix[t, p] / rowTotal;
            total += rowTotal;
            correct += matrix[t, t];
        }

        using var plot = new Plot();   // a Plot holds native Skia objects
        var heatmap = plot.Add.Heatmap(fractions);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed(); // white for none, dark blue for all
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Cell (t, p) centred on x = p, y = n - 1 - t: the first true class on the top row.
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "fraction of the true class";

        float fontSize = n <= 12 ? 14 : n <= 25 ? 10 : 7;
        for (int t = 0; t < n; t++)
            for (int p = 0; p < n; p++)
            {
                var text = plot.Add.Text(matrix[t, p].ToString(System.Globalization.CultureInfo.InvariantCulture), p, n - 1 - t);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = fontSize;
                text.LabelFontColor = fractions[t, p] > 0.5 ? Colors.White : Colors.Black;
                text.LabelBold = t == p;
            }

        var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, classNames);
        plot.Axes.Left.SetTicks(positions.Select(y => n - 1 - y).ToArray(), classNames);
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.XLabel("predicted");
        plot.YLabel("true");
        double accuracy = total == 0 ? 0 : (double)correct / total;
        plot.Title(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Confusion matrix: accuracy {accuracy * 100:F2}% ({correct}/{total})"));
        plot.HideGrid();

        int side = Math.Clamp(60 + 52 * n, 420, 1400);
        var bitmap = new SKBitmap(new SKImageInfo(side + 140, side + 40, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        plot.Render(canvas, bitmap.Width, bitmap.Height);
        canvas.Flush();
        return bitmap;
    }
}
