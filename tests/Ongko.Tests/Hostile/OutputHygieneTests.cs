using System.Diagnostics;
using Ongko.Serialization;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 5: what runs leave behind.</summary>
public class OutputHygieneTests
{
    [Fact]
    public void ADurableWriteRemovesTemporariesOfKilledWritersOnly()
    {
        using var dir = new TempDirectory();
        using var exited = Process.Start(new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true })!;
        exited.StandardOutput.ReadToEnd();
        exited.WaitForExit();
        int dead = exited.Id, live = Environment.ProcessId, other = 1;  // pid 1 is always running
        string Temporary(string name, int pid) => dir.File($".{name}.{pid}.{Guid.NewGuid():N}.tmp");
        string stale = Temporary("last.safetensors", dead), ours = Temporary("last.safetensors", live),
               running = Temporary("last.safetensors", other), otherFile = Temporary("best.safetensors", dead);
        foreach (var file in new[] { stale, ours, running, otherFile }) File.WriteAllText(file, "partial");

        AtomicFile.WriteAllText(dir.File("last.safetensors"), "new");

        Assert.Equal("new", File.ReadAllText(dir.File("last.safetensors")));
        Assert.False(File.Exists(stale), "the killed writer's temporary is still there");
        Assert.True(File.Exists(ours) && File.Exists(running), "a live writer's temporary was removed");
        Assert.True(File.Exists(otherFile), "another file's temporary was removed");
    }
}
