namespace Ongko.Cli;

/// <summary>
/// A rejected run leaves nothing behind: when a command fails, an output folder that it created itself is removed
/// again, unless it already holds a checkpoint (the finite weights of the epochs before the failure).
/// </summary>
public static class OutputFolder
{
    public static T RemovedIfRejected<T>(string folder, Func<T> run)
    {
        bool existed = Directory.Exists(folder) || File.Exists(folder);
        try { return run(); }
        catch
        {
            if (!existed) RemoveUnlessItHoldsCheckpoints(folder);
            throw;
        }
    }

    static void RemoveUnlessItHoldsCheckpoints(string folder)
    {
        try
        {
            if (Directory.Exists(folder) && !Directory.EnumerateFiles(folder, "*.safetensors").Any()) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
