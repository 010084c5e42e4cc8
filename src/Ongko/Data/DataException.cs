namespace Ongko.Data;

/// <summary>
/// Bad input data: a missing folder or file, a malformed CSV, a label out of range, an unreadable
/// image. The message names the file (and the CSV row where there is one) and says what is wrong,
/// so the CLI can print it as is, without a stack trace.
/// </summary>
public sealed class DataException : Exception
{
    /// <summary>The file or folder at fault.</summary>
    public string? FilePath { get; }
    /// <summary>1-based line number in a CSV file (the header is line 1), when the problem is one row.</summary>
    public int? Line { get; }

    public DataException(string message, string? filePath = null, int? line = null, Exception? inner = null)
        : base(Compose(message, filePath, line), inner)
    {
        FilePath = filePath;
        Line = line;
    }

    static string Compose(string message, string? filePath, int? line)
        => filePath is null ? message : line is null ? $"{filePath}: {message}" : $"{filePath}, line {line}: {message}";
}
