namespace Ongko.Data;

/// <summary>
/// Bad input data: a missing folder or file, a malformed CSV, a label out of range, an unreadable
/// image. The message names the file (and the CSV row where there is one) and says what is wrong,
/// so the CLI can print it as is, without a stack trace.
/// </summary>
public sealed class DataException : OngkoInputException
{
    /// <summary>A problem with <paramref name="filePath"/> (at CSV line <paramref name="line"/>, the header being line 1).</summary>
    public DataException(string message, string? filePath = null, int? line = null, Exception? inner = null)
        : base(message, filePath, line, inner) { }
}
