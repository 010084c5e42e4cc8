using System.CommandLine;

namespace Ongko.Cli;

/// <summary>A problem with what the user gave us (a file, an option): reported in one line, exit code 2.</summary>
public sealed class UsageException(string message) : OngkoInputException(message);

/// <summary>Runs the command tree: parse errors and bad input become one clear line on stderr, never a stack trace.</summary>
public static class CommandLine
{
    public const int BadInput = 2;

    public static int Run(Command root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"ongko: {error.Message}");
            Console.Error.WriteLine("Run 'ongko --help' for usage.");
            return BadInput;
        }
        return parsed.Invoke();
    }

    /// <summary>Wraps a command's body so that known input errors exit with code 2 and a message.</summary>
    public static void SetGuardedAction(this Command command, Func<ParseResult, int> body) =>
        command.SetAction(parseResult =>
        {
            try { return body(parseResult); }
            catch (Exception e) when (IsInputError(e))
            {
                Console.Error.WriteLine($"ongko {command.Name}: {e.Message}");
                return BadInput;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"ongko {command.Name}: cancelled");
                return 130;
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("ONGKO_DEBUG") is null)
            {
                Console.Error.WriteLine($"ongko {command.Name}: internal error: {e.GetType().Name}: {e.Message}");
                Console.Error.WriteLine("Set ONGKO_DEBUG=1 to see the stack trace, and please report it.");
                return 1;
            }
        });

    /// <summary>Bad input (every library input error derives from OngkoInputException) or a file the system refused.</summary>
    static bool IsInputError(Exception e) => e is OngkoInputException or UnauthorizedAccessException or IOException;
}
