using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Serve;

/// <summary>`ongko serve` as a user runs it: its options, the address it listens on, its log and Ctrl-C.</summary>
public sealed class ServeCommandTests
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public void WithoutACheckpointOrAShippedModelItSaysWhatToPass()
    {
        var (code, _, error) = CliTests.Ongko("serve", "--urls", $"http://127.0.0.1:{FreePort()}");
        Assert.Equal(2, code);
        Assert.Contains("no shipped model", error);
        Assert.Contains("--checkpoint", error);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:5000", "is not an address like")]
    [InlineData("http://127.0.0.1:5000/path", "is not an address like")]
    [InlineData("", "--urls is empty")]
    public void BadAddressesAreOneLineErrors(string urls, string message)
    {
        using var folder = new TempDirectory();
        ServeFixture.SaveSmallCheckpoint(folder.File("m.safetensors"));
        var (code, _, error) = CliTests.Ongko("serve", "--checkpoint", folder.File("m.safetensors"), "--urls", urls);
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void BadCheckpointIsAOneLineError()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("m.safetensors"), "not a checkpoint");
        var (code, _, error) = CliTests.Ongko("serve", "--checkpoint", folder.File("m.safetensors"), "--urls", $"http://127.0.0.1:{FreePort()}");
        Assert.Equal(2, code);
        Assert.Contains("m.safetensors", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task ServesOnLoopbackLogsEachRequestAndStopsCleanlyOnCtrlC()
    {
        using var folder = new TempDirectory();
        ServeFixture.SaveSmallCheckpoint(folder.File("m.safetensors"));
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "Ongko.Cli.dll"), "serve", "--checkpoint", folder.File("m.safetensors"),
                                       "--urls", $"http://127.0.0.1:{port}"])
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        process.BeginOutputReadLine();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            Assert.True(lines.TryTake(out var first, TimeSpan.FromSeconds(60)), "no output within a minute");
            Assert.Equal($"Serving m.safetensors (6,718 parameters) on http://127.0.0.1:{port}; Ctrl-C stops.", first);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/health")).StatusCode);
            var answer = await client.PostAsync("/api/predict", ServeFixture.Raw(ServeFixture.DigitPng(4)));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/api/predict", ServeFixture.Raw([1, 2, 3]))).StatusCode);

            Assert.True(lines.TryTake(out var health, TimeSpan.FromSeconds(10)));
            Assert.Matches(@" GET /api/health 200 \d+\.\d ms", health);
            Assert.True(lines.TryTake(out var predict, TimeSpan.FromSeconds(10)));
            Assert.Matches(@" POST /api/predict 200 \d+\.\d ms \d+ bytes", predict);
            Assert.True(lines.TryTake(out var bad, TimeSpan.FromSeconds(10)));
            Assert.Matches(@" POST /api/predict 400 ", bad);

            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) kill.WaitForExit();
            Assert.True(process.WaitForExit(30_000), "did not stop within 30 s of Ctrl-C");
            Assert.Equal(0, process.ExitCode);
            process.WaitForExit();
            Assert.Contains("Stopped.", lines.ToArray());
            Assert.Equal("", (await error).Trim());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void APortInUseIsAOneLineError()
    {
        using var folder = new TempDirectory();
        ServeFixture.SaveSmallCheckpoint(folder.File("m.safetensors"));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (code, _, error) = CliTests.Ongko("serve", "--checkpoint", folder.File("m.safetensors"), "--urls", $"http://127.0.0.1:{port}");
        Assert.Equal(2, code);
        Assert.Contains($"cannot listen on http://127.0.0.1:{port}", error);
        Assert.DoesNotContain("   at ", error);
    }
}
