namespace Ongko.Serialization;

/// <summary>
/// Writes a file through a temporary sibling and a rename, so readers never see a torn file. A durable write
/// first removes the temporaries of the same file that a killed process left behind.
/// </summary>
public static class AtomicFile
{
    /// <param name="durable">also flush to disk before the rename (leave off for thousands of small files)</param>
    public static void Write(string path, Action<Stream> write, bool durable = true)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        if (durable) RemoveStaleTemporaries(directory, Path.GetFileName(fullPath));  // not per file of a folder of thousands
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Deletes temporaries of <paramref name="name"/> left by a process that was killed mid-write
    /// (".name.PID.GUID.tmp" whose PID is no longer running); those of live processes are left alone.
    /// </summary>
    static void RemoveStaleTemporaries(string directory, string name)
    {
        string prefix = "." + name + ".";
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(directory, prefix + "*.tmp").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in candidates)
        {
            string leaf = Path.GetFileName(file);
            string[] parts = leaf.StartsWith(prefix, StringComparison.Ordinal) ? leaf[prefix.Length..].Split('.') : [];
            if (parts.Length != 3 || !int.TryParse(parts[0], out int pid) || pid == Environment.ProcessId || IsRunning(pid)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static bool IsRunning(int pid)
    {
        try { using var process = System.Diagnostics.Process.GetProcessById(pid); return !process.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool durable = true)
    {
        byte[] copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy), durable);
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream => { using var writer = new StreamWriter(stream, leaveOpen: true); writer.Write(text); });
}
