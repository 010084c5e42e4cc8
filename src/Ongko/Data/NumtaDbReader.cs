namespace Ongko.Data;

/// <summary>
/// NumtaDB's layout: a data folder holding <c>training-a/</c>, <c>training-b/</c>, ... of images and
/// <c>training-a.csv</c>, ... with columns <c>filename</c> and <c>digit</c> (required) and
/// <c>database name original</c> (optional; it names the split's strata). Other columns are ignored.
/// </summary>
public static class NumtaDbReader
{
    public static readonly string[] DefaultFolders = ["training-a", "training-b", "training-c"];

    /// <summary>The message for a run that names no data folder.</summary>
    public const string WhereToGetIt =
        "no data folder given: set data_dir in the config or pass --data-dir. NumtaDB (training-a ... training-e and their CSVs) " +
        "is at https://www.kaggle.com/datasets/BengaliAI/numta; other data sets can be read with a 'sources:' list in the config";

    /// <summary>
    /// Reads the listed folders (default training-a, b, c) in order. Throws <see cref="DataException"/>
    /// for a missing folder or CSV, a missing column, a row naming a missing file, or a label outside 0..classCount-1.
    /// </summary>
    public static List<Sample> Read(string dataDirectory, IEnumerable<string>? folders = null, int classCount = 10, bool checkFilesExist = true)
    {
        if (!Directory.Exists(dataDirectory)) throw new DataException("data folder not found", dataDirectory);
        var samples = new List<Sample>();
        foreach (string folder in folders ?? DefaultFolders)
        {
            string imageFolder = Path.Combine(dataDirectory, folder);
            string csvPath = Path.Combine(dataDirectory, folder + ".csv");
            if (!Directory.Exists(imageFolder)) throw new DataException($"image folder '{folder}' not found", imageFolder);
            if (!File.Exists(csvPath)) throw new DataException($"label file for '{folder}' not found", csvPath);
            ReadLabelled(CsvTable.Read(csvPath), imageFolder, folder, classCount, checkFilesExist, samples);
        }
        return samples;
    }

    /// <summary>Rows of a labels CSV (filename, digit, optional database name original) as samples under imageFolder.</summary>
    internal static void ReadLabelled(CsvTable table, string imageFolder, string defaultSource, int classCount, bool checkFilesExist, List<Sample> samples)
    {
        int fileColumn = table.RequiredColumn("filename");
        int digitColumn = table.RequiredColumn("digit");
        int sourceColumn = table.Column("database name original");
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (line, fields) in table.Rows)
        {
            table.RequireFields(line, fields, Math.Max(fileColumn, Math.Max(digitColumn, sourceColumn)));
            string name = fields[fileColumn].Trim();
            if (name.Length == 0) throw new DataException("empty filename", table.Path, line);
            string digitText = fields[digitColumn].Trim();
            if (!int.TryParse(digitText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int digit)
                && !(double.TryParse(digitText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double real)
                     && real == Math.Floor(real) && (digit = (int)real) == real))
                throw new DataException($"digit '{digitText}' of {name} is not a whole number", table.Path, line);
            if (digit < 0 || digit >= classCount)
                throw new DataException($"digit {digit} of {name} is outside 0..{classCount - 1}", table.Path, line);
            table.RequireUnique(firstLine, name, line);
            string path = table.FileInside(imageFolder, name, line);
            if (checkFilesExist && !File.Exists(path))
                throw new DataException($"image '{name}' listed in the CSV is missing from {imageFolder}", table.Path, line);
            string source = sourceColumn >= 0 && fields[sourceColumn].Trim().Length > 0 ? fields[sourceColumn].Trim() : defaultSource;
            samples.Add(new Sample(path, digit, source, name));
        }
    }
}
