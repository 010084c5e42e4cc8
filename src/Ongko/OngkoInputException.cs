namespace Ongko;

/// <summary>
/// Bad input from a user: a config, checkpoint, data file, model description or command-line value that
/// cannot be used. The message is one line a person can act on: the file (and line, where there is one)
/// and what was expected. Every input error of the library derives from this type
/// (<c>ConfigException</c>, <c>CheckpointException</c>, <c>DataException</c>, <c>ModelSpecException</c>,
/// <c>ShapeException</c>), so a front end catches this one type and reports it without a stack trace.
/// </summary>
public class OngkoInputException : Exception
{
    /// <summary>The file or folder at fault, when one is known.</summary>
    public string? FilePath { get; }
    /// <summary>1-based line in that file, when the problem is one line (a config key, a CSV row).</summary>
    public int? Line { get; }
    /// <summary>What is wrong or what was expected, without the file and line.</summary>
    public string Problem { get; }

    /// <summary>A problem in <paramref name="filePath"/> (at <paramref name="line"/>); the message reads "file, line N: problem".</summary>
    public OngkoInputException(string problem, string? filePath, int? line = null, Exception? inner = null)
        : base(Compose(problem, filePath, line), inner)
    {
        Problem = problem;
        FilePath = filePath;
        Line = line;
    }

    /// <summary>A message that already says where the problem is (or needs no file).</summary>
    public OngkoInputException(string message, Exception? inner = null) : base(message, inner) => Problem = message;

    static string Compose(string problem, string? filePath, int? line)
        => filePath is null ? problem : line is null ? $"{filePath}: {problem}" : $"{filePath}, line {line}: {problem}";
}
