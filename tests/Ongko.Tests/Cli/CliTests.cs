using System.Diagnostics;

namespace Ongko.Tests.Cli;

/// <summary>Runs the real `ongko` command as a user would and checks what it prints and returns.</summary>
public class CliTests
{
    public static (int ExitCode, string Output, string Error) Ongko(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Ongko.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(300_000), "ongko did not finish in 5 minutes");
        return (process.ExitCode, output.Result, error.Result);
    }

    [Fact]
    public void SummaryOfTheBuiltInModel3ShowsTheReferenceParameterCount()
    {
        var (code, output, _) = Ongko("summary");
        Assert.Equal(0, code);
        Assert.Contains("Total params: 1,724,938", output);
        Assert.Contains("Linear(1024)", output);
        Assert.Contains("[N, 32, 6, 6]", output);
    }

    [Fact]
    public void BadConfigExitsWithCode2AndNoStackTrace()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.yaml"), "model:\n  - [Conv2D, [3, 16]]\n");
        var (code, _, error) = Ongko("summary", "--config", dir.File("bad.yaml"));
        Assert.Equal(2, code);
        Assert.Contains("bad.yaml: model row 1 (line 2)", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void UnknownCommandAndMissingFileAreClearErrors()
    {
        var (code, _, error) = Ongko("trian");
        Assert.Equal(2, code);
        Assert.Contains("trian", error);
        (code, _, error) = Ongko("summary", "--config", "/nonexistent/x.yaml");
        Assert.Equal(2, code);
        Assert.Contains("/nonexistent/x.yaml", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void BenchJsonReportsEveryMeasure()
    {
        var (code, output, error) = Ongko("bench", "--config", Path.Combine(ConfigsDir(), "lenet.yaml"), "--batch", "8", "--seconds", "0.2", "--no-gemm", "--json");
        Assert.True(code == 0, error);
        var json = System.Text.Json.JsonDocument.Parse(output).RootElement;
        Assert.True(json.GetProperty("TrainImagesPerSecond").GetDouble() > 0);
        Assert.True(json.GetProperty("InferImagesPerSecond").GetDouble() > 0);
        Assert.True(json.GetProperty("Batch1LatencyMilliseconds").GetDouble() > 0);
    }

    static string ConfigsDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ongko.slnx"))) return Path.Combine(dir.FullName, "configs");
        throw new DirectoryNotFoundException("repository root not found");
    }
}
