using System.Globalization;
using System.Net;
using System.Text;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Reports;

/// <summary>
/// <see cref="ReportContent"/> → one self-contained HTML file: styles inline, pictures as data: URIs (PNG), curves as
/// inline SVG, no script, no font or anything else fetched, so it opens offline in any browser. Every text that comes
/// from files (names, config values, sources) is HTML-escaped. One small function per section.
/// </summary>
public static class ReportHtml
{
    /// <summary>The section headings, in page order (a section without data is left out).</summary>
    public static readonly IReadOnlyList<string> Headings =
        ["Config", "Data", "Training samples", "Curves", "Per-class metrics", "Confusion matrix", "Worst mistakes", "Timings", "Machine"];

    public static string Build(ReportContent content)
    {
        var html = new StringBuilder(1 << 16);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(H(content.Title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(H(content.Title)).Append("</h1>\n");
        if (content.Status.Length > 0) html.Append("<p class=\"status\">").Append(H(content.Status)).Append("</p>\n");
        Config(html, content);
        Data(html, content);
        Samples(html, content);
        Curves(html, content);
        PerClass(html, content);
        Confusion(html, content);
        Mistakes(html, content);
        Timings(html, content);
        Machine(html, content);
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
        h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
        .status, .note { color: #555; } table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; } th { background: #f4f4f4; }
        td.left, th.left { text-align: left; } pre { background: #f7f7f7; padding: 0.6em; overflow: auto; max-height: 16em; }
        .grid { display: flex; flex-wrap: wrap; gap: 6px; } figure { margin: 0; text-align: center; font-size: 0.8em; }
        figure img { width: 72px; height: 72px; image-rendering: pixelated; background: #000; display: block; }
        .card { border: 1px solid #ddd; border-radius: 4px; padding: 4px; width: 150px; font-size: 0.8em; }
        .card img { width: 84px; height: 84px; image-rendering: pixelated; display: block; margin: 0 auto 3px; }
        .card .name { overflow-wrap: anywhere; color: #555; } .wrong { color: #b00; font-weight: 600; }
        table.matrix td { min-width: 3.2em; text-align: center; border: 1px solid #fff; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; } svg text { font-size: 11px; fill: #333; }
        """;

    static void Config(StringBuilder html, ReportContent content)
    {
        if (content.Configs is not { } configs) return;
        Heading(html, "Config");
        if (configs.Count == 0) Note(html, "no config recorded");
        foreach (var (heading, text) in configs)
            html.Append("<h3>").Append(H(heading)).Append("</h3>\n<pre>").Append(H(text.Length > 0 ? text : "(none recorded)")).Append("</pre>\n");
    }

    static void Data(StringBuilder html, ReportContent content)
    {
        if (content.Data is not { } rows) return;
        Heading(html, "Data");
        if (rows.Count == 0) { Note(html, "no image counts"); return; }
        Note(html, "Images per source, split and class.");
        html.Append("<table>\n<tr><th class=\"left\">source</th><th class=\"left\">split</th>");
        foreach (string name in content.ClassNames) html.Append("<th>").Append(H(name)).Append("</th>");
        html.Append("<th>total</th></tr>\n");
        foreach (var row in rows) CountRow(html, row.Source, row.Split, row.PerClass, bold: false);
        foreach (var split in rows.Select(r => r.Split).Distinct())
        {
            var perClass = new long[content.ClassNames.Count];
            foreach (var row in rows.Where(r => r.Split == split))
                for (int c = 0; c < perClass.Length && c < row.PerClass.Length; c++) perClass[c] += row.PerClass[c];
            CountRow(html, "all sources", split, perClass, bold: true);
        }
        html.Append("</table>\n");
    }

    static void CountRow(StringBuilder html, string source, string split, long[] perClass, bool bold)
    {
        string cell = bold ? "th" : "td";
        html.Append("<tr><").Append(cell).Append(" class=\"left\">").Append(H(source)).Append("</").Append(cell).Append("><")
            .Append(cell).Append(" class=\"left\">").Append(H(split)).Append("</").Append(cell).Append('>');
        foreach (long count in perClass) html.Append('<').Append(cell).Append('>').Append(N(count)).Append("</").Append(cell).Append('>');
        html.Append('<').Append(cell).Append('>').Append(N(perClass.Sum())).Append("</").Append(cell).Append("></tr>\n");
    }

    static void Samples(StringBuilder html, ReportContent content)
    {
        if (content.Samples is not { } samples) return;
        Heading(html, "Training samples");
        Note(html, "Training inputs as the network sees them (after preprocessing and augmentation), with their labels.");
        html.Append("<div class=\"grid\">\n");
        foreach (var sample in samples)
            html.Append("<figure><img src=\"").Append(PngWriter.DataUrl(sample.Image)).Append("\" alt=\"").Append(H(sample.Caption))
                .Append("\"><figcaption>").Append(H(sample.Caption)).Append("</figcaption></figure>\n");
        html.Append("</div>\n");
    }

    static void Curves(StringBuilder html, ReportContent content)
    {
        if (content.History is not { } history) return;
        Heading(html, "Curves");
        if (history.Count == 0) { Note(html, "no epoch finished yet"); return; }
        Note(html, "Per epoch: training (blue) and validation (orange); the dashed line marks the best epoch.");
        int? best = history.LastOrDefault(e => e.IsBest)?.Epoch;
        html.Append("<div class=\"charts\">\n");
        html.Append(Svg.Chart("loss", history, best, e => e.TrainLoss, e => e.ValidLoss));
        html.Append(Svg.Chart("accuracy", history, best, e => e.TrainAccuracy, e => e.ValidAccuracy));
        html.Append(Svg.Chart("macro-F1", history, best, e => e.TrainMacroF1, e => e.ValidMacroF1));
        html.Append("</div>\n");
    }

    static void PerClass(StringBuilder html, ReportContent content)
    {
        if (content.Matrix is not { } matrix) { Missing(html, "Per-class metrics", content.MatrixNote); return; }
        Heading(html, "Per-class metrics");
        Note(html, content.MatrixNote);
        html.Append("<p>").Append(Invariant($"accuracy {matrix.Accuracy:P2}, macro-F1 {matrix.MacroF1:F4}, {matrix.Total:N0} images")).Append("</p>\n");
        html.Append("<table>\n<tr><th class=\"left\">class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n");
        for (int c = 0; c < matrix.ClassCount; c++)
        {
            var (precision, recall, f1, support) = matrix.ForClass(c);
            html.Append("<tr><td class=\"left\">").Append(H(ClassName(content, c))).Append("</td>")
                .Append(Invariant($"<td>{precision:F4}</td><td>{recall:F4}</td><td>{f1:F4}</td><td>{support:N0}</td></tr>\n"));
        }
        html.Append("</table>\n");
    }

    static void Confusion(StringBuilder html, ReportContent content)
    {
        if (content.Matrix is not { } matrix) { Missing(html, "Confusion matrix", content.MatrixNote); return; }
        Heading(html, "Confusion matrix");
        Note(html, "Rows: true class; columns: predicted class. Colour: share of the row (blue on the diagonal, red off it).");
        html.Append("<table class=\"matrix\">\n<tr><th>true \\ predicted</th>");
        for (int p = 0; p < matrix.ClassCount; p++) html.Append("<th>").Append(H(ClassName(content, p))).Append("</th>");
        html.Append("</tr>\n");
        for (int t = 0; t < matrix.ClassCount; t++)
        {
            long row = 0;
            for (int p = 0; p < matrix.ClassCount; p++) row += matrix[t, p];
            html.Append("<tr><th>").Append(H(ClassName(content, t))).Append("</th>");
            for (int p = 0; p < matrix.ClassCount; p++)
            {
                double share = row == 0 ? 0 : (double)matrix[t, p] / row;
                // Off the diagonal even a few mistakes should show: the square root lifts small shares.
                double strength = t == p ? share : Math.Sqrt(share);
                string colour = t == p ? Blend(strength, (49, 130, 189)) : Blend(strength, (215, 48, 39));
                string text = strength > 0.6 ? "#fff" : "#222";
                html.Append("<td style=\"background:").Append(colour).Append(";color:").Append(text).Append("\">")
                    .Append(matrix[t, p] == 0 ? "" : N(matrix[t, p])).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    static void Mistakes(StringBuilder html, ReportContent content)
    {
        if (content.Mistakes is not { } mistakes) { Missing(html, "Worst mistakes", content.MistakesNote); return; }
        Heading(html, "Worst mistakes");
        Note(html, content.MistakesNote);
        if (mistakes.Count == 0) { Note(html, "no mistakes"); return; }
        html.Append("<div class=\"grid\">\n");
        foreach (var m in mistakes)
        {
            string top = string.Join("<br>", m.Top.Select(t => H(ClassName(content, t.Class)) + Invariant($": {t.Probability:P1}")));
            html.Append("<div class=\"card\"><img src=\"").Append(PngWriter.DataUrl(m.Image)).Append("\" alt=\"").Append(H(m.Name)).Append("\">")
                .Append("<div class=\"name\">").Append(H(m.Name)).Append("</div>")
                .Append("<div>true ").Append(H(ClassName(content, m.Truth))).Append(", <span class=\"wrong\">predicted ")
                .Append(H(ClassName(content, m.Predicted))).Append("</span></div><div>").Append(top).Append("</div></div>\n");
        }
        html.Append("</div>\n");
    }

    static void Timings(StringBuilder html, ReportContent content)
    {
        if (content.Timings is null && content.History is null) return;
        Heading(html, "Timings");
        if (content.Timings is { } facts) Table(html, facts);
        if (content.History is not { Count: > 0 } history) return;
        html.Append("<h3>per epoch</h3>\n<table>\n<tr><th>epoch</th><th>seconds</th><th>training images/s</th><th>lr</th>")
            .Append("<th>train loss</th><th>valid loss</th><th>valid accuracy</th><th>valid macro-F1</th></tr>\n");
        foreach (var e in history)
            html.Append(Invariant($"<tr><td>{e.Epoch}{(e.IsBest ? " (best)" : "")}</td><td>{e.Seconds:F1}</td><td>{e.ImagesPerSecond:N0}</td><td>{e.LearningRate:G4}</td>"))
                .Append(Invariant($"<td>{e.TrainLoss:F4}</td><td>{e.ValidLoss:F4}</td><td>{e.ValidAccuracy:P2}</td><td>{e.ValidMacroF1:F4}</td></tr>\n"));
        html.Append("</table>\n");
    }

    static void Machine(StringBuilder html, ReportContent content)
    {
        Heading(html, "Machine");
        Table(html, content.Machine.Rows());
    }

    static void Table(StringBuilder html, IEnumerable<(string Name, string Value)> rows)
    {
        html.Append("<table>\n");
        foreach (var (name, value) in rows)
            html.Append("<tr><th class=\"left\">").Append(H(name)).Append("</th><td class=\"left\">").Append(H(value)).Append("</td></tr>\n");
        html.Append("</table>\n");
    }

    static void Heading(StringBuilder html, string heading) =>
        html.Append("<h2 id=\"").Append(heading.ToLowerInvariant().Replace(' ', '-')).Append("\">").Append(H(heading)).Append("</h2>\n");

    /// <summary>A section without data: its heading and why, when there is a reason to give; else nothing.</summary>
    static void Missing(StringBuilder html, string heading, string why)
    {
        if (why.Length == 0) return;
        Heading(html, heading);
        Note(html, why);
    }

    static void Note(StringBuilder html, string note)
    {
        if (note.Length > 0) html.Append("<p class=\"note\">").Append(H(note)).Append("</p>\n");
    }

    static string ClassName(ReportContent content, int c) => c >= 0 && c < content.ClassNames.Count ? content.ClassNames[c] : c.ToString(CultureInfo.InvariantCulture);

    /// <summary>White blended towards <paramref name="colour"/> by <paramref name="amount"/> in [0, 1], as #rrggbb.</summary>
    static string Blend(double amount, (int R, int G, int B) colour)
    {
        int Mix(int channel) => (int)Math.Round(255 + (channel - 255) * Math.Clamp(amount, 0, 1));
        return $"#{Mix(colour.R):x2}{Mix(colour.G):x2}{Mix(colour.B):x2}";
    }

    /// <summary>HTML-escapes text (also quotes, so it is safe inside attributes).</summary>
    public static string H(string text) => WebUtility.HtmlEncode(text);

    static string N(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>Line charts as inline SVG: one value per epoch, two series.</summary>
    static class Svg
    {
        const int Width = 340, Height = 220, Left = 52, Right = 12, Top = 22, Bottom = 34;

        public static string Chart(string title, IReadOnlyList<EpochResult> history, int? best, Func<EpochResult, double> train, Func<EpochResult, double> valid)
        {
            var values = history.SelectMany(e => new[] { train(e), valid(e) }).Where(double.IsFinite).ToList();
            double low = values.Count > 0 ? values.Min() : 0, high = values.Count > 0 ? values.Max() : 1;
            if (high - low < 1e-9) { low -= 0.5 * Math.Max(Math.Abs(low), 1e-3); high += 0.5 * Math.Max(Math.Abs(high), 1e-3); }
            int first = history[0].Epoch, last = history[^1].Epoch;
            double X(int epoch) => Left + (last == first ? 0.5 : (double)(epoch - first) / (last - first)) * (Width - Left - Right);
            double Y(double value) => Top + (high - value) / (high - low) * (Height - Top - Bottom);

            var svg = new StringBuilder();
            svg.Append(Invariant($"<svg width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{title}\">"))
               .Append(Invariant($"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#fff\"/>"))
               .Append(Invariant($"<text x=\"{Width / 2}\" y=\"14\" text-anchor=\"middle\" font-weight=\"600\">{title}</text>"));
            for (int k = 0; k <= 4; k++)
            {
                double value = low + (high - low) * k / 4, y = Y(value);
                svg.Append(Invariant($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Width - Right}\" y2=\"{y:F1}\" stroke=\"#e5e5e5\"/>"))
                   .Append(Invariant($"<text x=\"{Left - 4}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{value:G4}</text>"));
            }
            foreach (int epoch in Ticks(first, last))
                svg.Append(Invariant($"<text x=\"{X(epoch):F1}\" y=\"{Height - Bottom + 14}\" text-anchor=\"middle\">{epoch}</text>"));
            svg.Append(Invariant($"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 4}\" text-anchor=\"middle\">epoch</text>"));
            if (best is { } b)
                svg.Append(Invariant($"<line x1=\"{X(b):F1}\" y1=\"{Top}\" x2=\"{X(b):F1}\" y2=\"{Height - Bottom}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>"));
            Series(svg, history, train, X, Y, "#1f77b4");
            Series(svg, history, valid, X, Y, "#ff7f0e");
            svg.Append(Invariant($"<text x=\"{Width - Right}\" y=\"14\" text-anchor=\"end\"><tspan fill=\"#1f77b4\">train</tspan> <tspan fill=\"#ff7f0e\">valid</tspan></text>"));
            return svg.Append("</svg>\n").ToString();
        }

        static void Series(StringBuilder svg, IReadOnlyList<EpochResult> history, Func<EpochResult, double> value, Func<int, double> x, Func<double, double> y, string colour)
        {
            var points = history.Where(e => double.IsFinite(value(e))).Select(e => (X: x(e.Epoch), Y: y(value(e)))).ToList();
            if (points.Count == 0) return;
            svg.Append("<polyline fill=\"none\" stroke=\"").Append(colour).Append("\" stroke-width=\"2\" points=\"")
               .Append(string.Join(" ", points.Select(p => Invariant($"{p.X:F1},{p.Y:F1}")))).Append("\"/>");
            foreach (var (px, py) in points)
                svg.Append(Invariant($"<circle cx=\"{px:F1}\" cy=\"{py:F1}\" r=\"2.5\" fill=\"{colour}\"/>"));
        }

        /// <summary>At most about eight epoch labels, evenly spaced.</summary>
        static IEnumerable<int> Ticks(int first, int last)
        {
            int step = Math.Max(1, (int)Math.Ceiling((last - first + 1) / 8.0));
            for (int epoch = first; epoch <= last; epoch += step) yield return epoch;
        }
    }
}
