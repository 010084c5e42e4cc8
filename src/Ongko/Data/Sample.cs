using Ongko.Vision;

namespace Ongko.Data;

/// <summary>
/// One labelled (or unlabelled) image: a file on disk, or an image already in memory (IDX sets).
/// </summary>
public sealed class Sample
{
    /// <summary>The image file, or null for an in-memory image.</summary>
    public string? Path { get; }
    /// <summary>The in-memory image, or null for a file.</summary>
    public ByteImage? Image { get; }
    /// <summary>Class index, or -1 when the image has no label (prediction).</summary>
    public int Label { get; }
    /// <summary>Where it comes from (NumtaDB's <c>database name original</c>, else the folder name): one half of the split's stratum.</summary>
    public string Source { get; }
    /// <summary>Short name for reports: the file name as written in the CSV, or "set#index".</summary>
    public string Name { get; }
    /// <summary>The sample's weight in the training loss (its source's <c>weight</c>); 1 by default.</summary>
    public float Weight { get; internal set; } = 1;

    public Sample(string path, int label, string source, string? name = null)
    {
        Path = path; Label = label; Source = source; Name = name ?? System.IO.Path.GetFileName(path);
    }

    public Sample(ByteImage image, int label, string source, string name)
    {
        Image = image; Label = label; Source = source; Name = name;
    }

    public override string ToString() => $"{Name} ({Source}, label {Label})";
}
