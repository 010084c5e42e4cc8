using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>
/// The one typeface every picture uses: DejaVu Sans, embedded in the assembly (Bitstream Vera
/// licence, see Fonts/DejaVuSans-LICENSE.txt), so labels and axes render the same on a machine
/// with no fonts installed and no fontconfig (the native Skia assets are the NoDependencies build).
/// </summary>
public static class VisualFonts
{
    public const string FamilyName = "DejaVu Sans";
    const string ResourceName = "Ongko.Cli.Visuals.DejaVuSans.ttf";

    static readonly Lazy<SKTypeface> typeface = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    static readonly Lazy<bool> scottPlotReady = new(RegisterWithScottPlot, LazyThreadSafetyMode.ExecutionAndPublication);

    public static SKTypeface Typeface => typeface.Value;

    /// <summary>Makes every ScottPlot plot draw its text with the embedded typeface (idempotent).</summary>
    public static void UseInScottPlot() => _ = scottPlotReady.Value;

    static SKTypeface Load()
    {
        using var stream = typeof(VisualFonts).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded font {ResourceName} is missing from the assembly");
        using var data = SKData.Create(stream);
        return SKTypeface.FromData(data)
            ?? throw new InvalidOperationException($"embedded font {ResourceName} could not be read");
    }

    static bool RegisterWithScottPlot()
    {
        ScottPlot.Fonts.FontResolvers.Insert(0, new EmbeddedFontResolver());
        ScottPlot.Fonts.Default = FamilyName;
        return true;
    }

    /// <summary>Answers every font request with the embedded typeface.</summary>
    sealed class EmbeddedFontResolver : ScottPlot.IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) => Typeface;

        public SKTypeface? CreateTypeface(string fontName, ScottPlot.FontWeight weight, ScottPlot.FontSlant slant, ScottPlot.FontSpacing spacing) => Typeface;
    }
}
