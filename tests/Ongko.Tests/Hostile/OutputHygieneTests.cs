using System.Diagnostics;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 5: what runs leave behind.</summary>
public class OutputHygieneTests
{
    [Theory]
    [InlineData("plain.png"), InlineData("a,b.png"), InlineData("say \"hi\".png"), InlineData("two\nlines.png"), InlineData("both,\".png")]
    public void QuoteRoundTripsThroughTheCsvReader(string name)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "FileName,Digit\n" + CsvTable.Quote(name) + ",3\n");
        var table = CsvTable.Read(dir.File("t.csv"));
        Assert.Equal([name, "3"], table.Rows.Single().Fields);
    }

    [Fact]
    public void PredictionsCsvQuotesAwkwardFileNames()
    {
        if (!OperatingSystem.IsLinux()) return;  // such names are not allowed elsewhere
        using var dir = new TempDirectory();
        CheckpointHostileTests.RealCheckpoint(dir.Path);
        Directory.CreateDirectory(dir.File("images"));
        string[] names = ["a,b.png", "say \"hi\".png", "two\nlines.png", "plain.png"];
        foreach (string name in names) File.Copy(Path.Combine(Data.DataTestSupport.FixtureDirectory, "grey8.png"), Path.Combine(dir.File("images"), name));
        // A batch size far beyond the four images (it once overflowed an allocation) is just the whole folder.
        var (code, _, error) = CliTests.Ongko("predict", dir.File("images"), "--checkpoint", dir.File("real.safetensors"), "-o", dir.File("out"), "--batch", "2000000000");
        Assert.True(code == 0, error);
        var table = CsvTable.Read(dir.File("out/predictions.csv"));
        Assert.Equal(names.Order(StringComparer.Ordinal), table.Rows.Select(r => r.Fields[0]));
        Assert.All(table.Rows, row => Assert.Equal(table.Header.Length, row.Fields.Length));  // FileName, Digit, Confidence, P0..P9
    }

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
