namespace Ongko.Data;

/// <summary>A folder of .png/.jpg/.jpeg images (any case), for prediction, with an optional labels CSV.</summary>
public static class ImageFolderReader
{
    static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    /// <summary>True when the file name ends in .png, .jpg or .jpeg, in any case.</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Without a labels CSV: every image in the folder (not subfolders), sorted by name (ordinal), label -1.
    /// With one (columns filename, digit): exactly the rows of the CSV, in CSV order, checked like NumtaDB's.
    /// </summary>
    public static List<Sample> Read(string folder, string? labelsCsv = null, int classCount = 10)
    {
        if (!Directory.Exists(folder)) throw new DataException("image folder not found", folder);
        string source = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        var samples = new List<Sample>();
        if (labelsCsv is not null)
        {
            NumtaDbReader.ReadLabelled(CsvTable.Read(labelsCsv), folder, source, classCount, checkFilesExist: true, samples);
            return samples;
        }
        var files = Directory.EnumerateFiles(folder).Where(IsImageFile).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new DataException("no .png, .jpg or .jpeg images in the folder", folder);
        foreach (string file in files) samples.Add(new Sample(file, -1, source));
        return samples;
    }
}
