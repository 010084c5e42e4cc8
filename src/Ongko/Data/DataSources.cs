namespace Ongko.Data;

/// <summary>Which part of a run a source feeds.</summary>
public enum SourceUse
{
    /// <summary>Split into training and validation (stratified by source and class, <c>valid_fraction</c>).</summary>
    Split,
    /// <summary>Training only.</summary>
    Train,
    /// <summary>Validation only (e.g. a data set's official test part).</summary>
    Valid,
}

/// <summary>The kinds of data set a source can read.</summary>
public enum SourceType
{
    /// <summary>NumtaDB's layout: <c>training-a/</c> + <c>training-a.csv</c>, ... under <see cref="DataSource.Path"/>.</summary>
    NumtaDb,
    /// <summary>A folder of images and a labels CSV (columns filename, digit).</summary>
    FolderCsv,
    /// <summary>One subfolder per class (<c>0/</c>, <c>1/</c>, ... or names sorted to classes 0, 1, ...).</summary>
    ClassFolders,
    /// <summary>IDX files (MNIST, EMNIST, Fashion-MNIST), gzipped or not.</summary>
    Idx,
}

/// <summary>
/// One labelled data set of a run (a <c>sources:</c> entry of the config). Relative paths are taken relative to
/// the base folder given to <see cref="Read"/> (the config's <c>data_dir</c>, else the current folder).
/// </summary>
public sealed record DataSource
{
    public SourceType Type { get; init; } = SourceType.NumtaDb;
    /// <summary>The data folder (numtadb, folder_csv, class_folders).</summary>
    public string? Path { get; init; }
    /// <summary>NumtaDB folders to read (numtadb; default training-a, -b, -c).</summary>
    public IReadOnlyList<string>? Folders { get; init; }
    /// <summary>The labels CSV (folder_csv).</summary>
    public string? Csv { get; init; }
    /// <summary>The IDX image and label files (idx).</summary>
    public string? Images { get; init; }
    public string? Labels { get; init; }
    /// <summary>IDX: swap rows and columns (EMNIST stores images transposed).</summary>
    public bool Transpose { get; init; }
    /// <summary>IDX: subtracted from every label (EMNIST letters start at 1).</summary>
    public int LabelOffset { get; init; }
    public SourceUse Use { get; init; } = SourceUse.Split;
    /// <summary>This source's validation share (split sources); null uses the run's.</summary>
    public double? ValidFraction { get; init; }
    /// <summary>Each of its samples' weight in the training loss (e.g. below 1 for pseudo-labels); validation ignores it.</summary>
    public double Weight { get; init; } = 1;

    /// <summary>The source's samples; every problem is a <see cref="DataException"/> naming the file.</summary>
    public List<Sample> Read(int classCount, string? baseFolder = null)
    {
        string Resolve(string? path, string what) => path is null
            ? throw new DataException($"a {TypeName(Type)} source needs '{what}'")
            : System.IO.Path.Combine(baseFolder ?? "", path);
        return Type switch
        {
            SourceType.NumtaDb => NumtaDbReader.Read(Path is null && baseFolder is not null ? baseFolder : Resolve(Path, "path"), Folders, classCount),
            SourceType.FolderCsv => ImageFolderReader.Read(Resolve(Path, "path"), Resolve(Csv, "csv"), classCount),
            SourceType.ClassFolders => ClassFolderReader.Read(Resolve(Path, "path"), classCount),
            SourceType.Idx => IdxReader.Read(Resolve(Images, "images"), Resolve(Labels, "labels"), classCount, Transpose, LabelOffset),
            _ => throw new ArgumentOutOfRangeException(nameof(Type)),
        };
    }

    /// <summary>The config's spelling of a type (numtadb, folder_csv, class_folders, idx).</summary>
    public static string TypeName(SourceType type) => type switch
    {
        SourceType.NumtaDb => "numtadb", SourceType.FolderCsv => "folder_csv", SourceType.ClassFolders => "class_folders", _ => "idx",
    };

    /// <summary>
    /// Reads every source and splits them: each split source is stratified by (source, class) on its own with
    /// its own fraction, train-only and valid-only sources go whole to their side. With one split source this is
    /// exactly <see cref="DataSplit.Stratified"/> of its samples.
    /// </summary>
    public static (List<Sample> Train, List<Sample> Validation) ReadAndSplit(IReadOnlyList<DataSource> sources, int classCount,
                                                                             double validFraction, ulong seed, string? baseFolder = null)
    {
        var train = new List<Sample>();
        var valid = new List<Sample>();
        foreach (var source in sources)
        {
            var samples = source.Read(classCount, baseFolder);
            if (source.Weight != 1) foreach (var sample in samples) sample.Weight = (float)source.Weight;
            switch (source.Use)
            {
                case SourceUse.Train: train.AddRange(samples); break;
                case SourceUse.Valid: valid.AddRange(samples); break;
                default:
                    var (t, v) = DataSplit.Stratified(samples, source.ValidFraction ?? validFraction, seed);
                    train.AddRange(t);
                    valid.AddRange(v);
                    break;
            }
        }
        return (train, valid);
    }
}

/// <summary>
/// A class-per-folder data set: <c>root/0/*.png</c>, <c>root/1/*.png</c>, ... When every subfolder's name is a whole
/// number it is the class; otherwise the names sorted (ordinal) become classes 0, 1, .... The subfolder name is each
/// sample's source only when the numbers are the classes; else the root's name.
/// </summary>
public static class ClassFolderReader
{
    public static List<Sample> Read(string root, int classCount = 10)
    {
        if (!Directory.Exists(root)) throw new DataException("data folder not found", root);
        var folders = Directory.GetDirectories(root).OrderBy(d => System.IO.Path.GetFileName(d), StringComparer.Ordinal).ToList();
        if (folders.Count == 0) throw new DataException("no class subfolders (expected 0/, 1/, ... holding images)", root);
        var names = folders.Select(f => System.IO.Path.GetFileName(f)).ToList();
        bool numbered = names.All(n => int.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _));
        string source = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(root));
        var samples = new List<Sample>();
        for (int i = 0; i < folders.Count; i++)
        {
            int label = numbered ? int.Parse(names[i], System.Globalization.CultureInfo.InvariantCulture) : i;
            if (label >= classCount)
                throw new DataException($"class folder '{names[i]}' is class {label}, outside 0..{classCount - 1} (num_class: {classCount})", folders[i]);
            foreach (var file in Directory.EnumerateFiles(folders[i]).Where(ImageFolderReader.IsImageFile).OrderBy(f => f, StringComparer.Ordinal))
                samples.Add(new Sample(file, label, source, names[i] + "/" + System.IO.Path.GetFileName(file)));
        }
        if (samples.Count == 0) throw new DataException("no .png, .jpg or .jpeg images in the class folders", root);
        return samples;
    }
}
