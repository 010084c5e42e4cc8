namespace Ongko.Data;

/// <summary>
/// A list of images to leave out of training (<c>exclude:</c>, <c>ongko train --exclude FILE</c>), e.g. the images a
/// label audit flagged (<c>ongko audit</c>'s audit.csv) or a hand-made list. Two forms: a CSV whose header has a
/// <c>filename</c> column (other columns ignored), or plain text with one name per line (blank lines and lines starting
/// with # skipped). An entry names an image as a bare file name (<c>a00012.png</c>), a path ending
/// (<c>training-a/a00012.png</c>, matched on whole folder names), a full path, or an in-memory image's name (<c>set#12</c>).
/// </summary>
public sealed class ExcludeList
{
    public string Path { get; }
    /// <summary>The names, each with its 1-based line in the file.</summary>
    public IReadOnlyList<(int Line, string Name)> Entries { get; }

    ExcludeList(string path, List<(int, string)> entries) => (Path, Entries) = (path, entries);

    /// <summary>Reads a list; a file that cannot be read, or a CSV without names, is a <see cref="DataException"/> naming it.</summary>
    public static ExcludeList Read(string path)
    {
        string text = InputFiles.ReadAllText(path, InputKind.Csv, message => new DataException(message, path));
        string firstLine = text.TrimStart('\uFEFF').Split('\n', 2)[0].Trim();
        bool csv = firstLine.Split(',').Any(column => string.Equals(column.Trim().Trim('"'), "filename", StringComparison.OrdinalIgnoreCase));
        var entries = new List<(int, string)>();
        if (csv)
        {
            var table = CsvTable.Read(path);
            int column = table.RequiredColumn("filename");
            foreach (var (line, fields) in table.Rows)
            {
                table.RequireFields(line, fields, column);
                if (fields[column].Trim() is { Length: > 0 } name) entries.Add((line, name));
            }
        }
        else
        {
            string[] lines = text.TrimStart('\uFEFF').Split('\n');
            for (int i = 0; i < lines.Length; i++)
                if (lines[i].Trim() is { Length: > 0 } name && !name.StartsWith('#')) entries.Add((i + 1, name));
        }
        return new ExcludeList(path, entries);
    }

    /// <summary>
    /// Removes from <paramref name="train"/> every sample an entry of <paramref name="lists"/> names. Validation is left
    /// as it is (so a run with and without the list is judged on the same images): entries found there are counted.
    /// Entries that name no image of the run are reported, not dropped silently.
    /// </summary>
    public static ExclusionReport Apply(IReadOnlyList<ExcludeList> lists, List<Sample> train, IReadOnlyList<Sample> validation)
    {
        var byFileName = new Dictionary<string, List<(Sample Sample, bool Train)>>(StringComparer.Ordinal);
        void Index(Sample sample, bool isTrain)
        {
            foreach (string? key in new[] { FileNameOf(sample.Name), sample.Path is null ? null : FileNameOf(sample.Path) }.Distinct())
            {
                if (key is null) continue;
                if (!byFileName.TryGetValue(key, out var list)) byFileName[key] = list = [];
                list.Add((sample, isTrain));
            }
        }
        foreach (var sample in train) Index(sample, true);
        foreach (var sample in validation) Index(sample, false);

        var excluded = new HashSet<Sample>(ReferenceEqualityComparer.Instance);
        var inValidation = new HashSet<Sample>(ReferenceEqualityComparer.Instance);
        var unmatched = new List<string>();
        int ambiguous = 0;
        foreach (var list in lists)
            foreach (var (line, name) in list.Entries)
            {
                string entry = name.Replace('\\', '/');
                while (entry.StartsWith("./", StringComparison.Ordinal)) entry = entry[2..];
                var matches = byFileName.GetValueOrDefault(FileNameOf(entry) ?? "")?.Where(m => Names(m.Sample, entry)).ToList() ?? [];
                if (matches.Count == 0) { unmatched.Add($"{name} ({System.IO.Path.GetFileName(list.Path)}, line {line})"); continue; }
                if (matches.Select(m => m.Sample).Distinct().Count() > 1) ambiguous++;
                foreach (var (sample, isTrain) in matches) (isTrain ? excluded : inValidation).Add(sample);
            }
        int before = train.Count;
        var perSource = train.Where(excluded.Contains).GroupBy(s => s.Source).OrderBy(g => g.Key, StringComparer.Ordinal)
                             .ToDictionary(g => g.Key, g => g.Count());
        train.RemoveAll(excluded.Contains);
        return new ExclusionReport(lists.Select(l => l.Path).ToList(), lists.Sum(l => l.Entries.Count), before - train.Count, perSource,
                                   inValidation.Count, ambiguous, unmatched);
    }

    static string? FileNameOf(string path) => path.Replace('\\', '/').Split('/')[^1] is { Length: > 0 } name ? name : null;

    /// <summary>True when <paramref name="entry"/> is the sample's name, its full path, or the ending of its path on whole folder names.</summary>
    static bool Names(Sample sample, string entry)
    {
        if (sample.Name.Replace('\\', '/') == entry) return true;
        if (sample.Path is null) return false;
        string full = System.IO.Path.GetFullPath(sample.Path).Replace('\\', '/');
        return full == entry || full.EndsWith("/" + entry, StringComparison.Ordinal)
               || sample.Path.Replace('\\', '/') is var given && (given == entry || given.EndsWith("/" + entry, StringComparison.Ordinal));
    }
}

/// <summary>What <see cref="ExcludeList.Apply"/> did.</summary>
public sealed record ExclusionReport(IReadOnlyList<string> Files, int Entries, int Excluded, IReadOnlyDictionary<string, int> ExcludedPerSource,
                                     int InValidation, int Ambiguous, IReadOnlyList<string> Unmatched)
{
    /// <summary>The lines a run prints: what was left out per source, and a warning for names that matched nothing.</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"Excluded {Excluded:N0} training image(s) named in {string.Join(", ", Files)} ({Entries:N0} entries)" +
                     (ExcludedPerSource.Count > 0 ? ": " + string.Join(", ", ExcludedPerSource.Select(p => $"{p.Key} {p.Value:N0}")) : "") +
                     (InValidation > 0 ? $"; {InValidation:N0} named image(s) are in the validation split and stay there (validation is not filtered)" : "") +
                     (Ambiguous > 0 ? $"; {Ambiguous:N0} entries named more than one image (all of them left out)" : "");
        if (Unmatched.Count > 0)
            yield return $"warning: {Unmatched.Count:N0} name(s) of the exclude list match no image of this run: {string.Join("; ", Unmatched.Take(5))}" +
                         (Unmatched.Count > 5 ? "; ..." : "");
    }
}
