using System.Text;

namespace Ongko.Data;

/// <summary>A small RFC 4180 CSV reader: a header row, quoted fields with "" escapes, CRLF or LF.</summary>
public sealed class CsvTable
{
    public string Path { get; }
    public string[] Header { get; }
    /// <summary>Rows and their 1-based line numbers in the file (the header is line 1).</summary>
    public List<(int Line, string[] Fields)> Rows { get; } = [];

    CsvTable(string path, string[] header) { Path = path; Header = header; }

    public static CsvTable Read(string path)
    {
        string text = InputFiles.ReadAllText(path, InputKind.Csv, message => new DataException(message, path));
        var records = Parse(text, path);
        if (records.Count == 0) throw new DataException("the CSV file is empty (no header row)", path);
        var table = new CsvTable(path, records[0].Fields.Select(f => f.Trim()).ToArray());
        foreach (var record in records.Skip(1))
            if (!(record.Fields.Length == 1 && record.Fields[0].Length == 0)) table.Rows.Add(record);
        return table;
    }


    /// <summary>
    /// The file a row names, inside <paramref name="folder"/>: a name that leaves the folder (<c>../x.png</c>, an absolute
    /// path) is refused with the row, whatever on_bad_image says, since the list itself is wrong and no image is opened.
    /// </summary>
    public string FileInside(string folder, string name, int line)
    {
        string root = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(folder)) + System.IO.Path.DirectorySeparatorChar;
        string? full = null;
        try { if (!System.IO.Path.IsPathRooted(name)) full = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, name)); }
        catch (ArgumentException) { }
        if (full is null || !full.StartsWith(root, StringComparison.Ordinal))
            throw new DataException($"file name '{name}' points outside the image folder {folder}; names must be relative to it", Path, line);
        return System.IO.Path.Combine(folder, name);
    }

    /// <summary>Throws, naming the line, when a row is too short to hold column <paramref name="column"/>.</summary>
    public void RequireFields(int line, string[] fields, int column)
    {
        if (fields.Length <= column) throw new DataException($"row has {fields.Length} field(s), the header has {Header.Length}", Path, line);
    }

    /// <summary>Throws, naming both lines, when <paramref name="name"/> was already listed (recorded in <paramref name="firstLine"/>).</summary>
    public void RequireUnique(Dictionary<string, int> firstLine, string name, int line)
    {
        if (!firstLine.TryAdd(name, line))
            throw new DataException($"'{name}' is listed twice (lines {firstLine[name]} and {line}); remove one of the rows", Path, line);
    }

    /// <summary>A field as RFC 4180 writes it: quoted (with "" for ") when it holds a comma, a quote or a line break.</summary>
    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

    /// <summary>Index of a column by name (case-insensitive), or -1.</summary>
    public int Column(string name) => Array.FindIndex(Header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Index of a column that must be there; a <see cref="DataException"/> names the file and the columns it has.</summary>
    public int RequiredColumn(string name)
    {
        int index = Column(name);
        if (index < 0) throw new DataException($"missing required column '{name}' (columns: {string.Join(", ", Header)})", Path, 1);
        return index;
    }

    static List<(int Line, string[] Fields)> Parse(string text, string path)
    {
        var records = new List<(int Line, string[] Fields)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF') i = 1;
        bool quoted = false, any = false;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else { if (c == '\n') line++; field.Append(c); }
                continue;
            }
            switch (c)
            {
                case '"': quoted = true; any = true; break;
                case ',': fields.Add(field.ToString()); field.Clear(); any = true; break;
                case '\r': break;
                case '\n':
                    fields.Add(field.ToString()); field.Clear();
                    records.Add((recordLine, fields.ToArray())); fields.Clear();
                    line++; recordLine = line; any = false;
                    break;
                default: field.Append(c); any = true; break;
            }
        }
        if (quoted) throw new DataException("unterminated quoted field", path, recordLine);
        if (any || field.Length > 0) { fields.Add(field.ToString()); records.Add((recordLine, fields.ToArray())); }
        return records;
    }
}
