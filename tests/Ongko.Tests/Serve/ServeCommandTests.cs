using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Collections.Concurrent;
using Ongko.Cli;
using Ongko.Tests.Cli;
using Ongko.Tests.Serialization;

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

    /// <summary>Starts `ongko serve ARGS` and collects its output lines.</summary>
    static (Process Process, BlockingCollection<string> Lines, Task<string> Error) Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ongko.Cli.dll"));
        start.ArgumentList.Add("serve");
        foreach (var arg in args) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        var lines = new BlockingCollection<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        process.BeginOutputReadLine();
        return (process, lines, process.StandardError.ReadToEndAsync());
    }

    /// <summary>Sends a signal, as Ctrl-C (INT) or a service manager (TERM) would; the server must stop with code 0.</summary>
    static void StopsCleanly(Process process, BlockingCollection<string> lines, string signal)
    {
        using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString()])) kill.WaitForExit();
        Assert.True(process.WaitForExit(30_000), $"did not stop within 30 s of SIG{signal}");
        Assert.Equal(0, process.ExitCode);
        process.WaitForExit();
        Assert.Contains("Stopped.", lines.ToArray());
    }

    [Fact]
    public async Task ServesOnLoopbackLogsEachRequestAndStopsCleanlyOnCtrlC()
    {
        using var folder = new TempDirectory();
        ServeFixture.SaveSmallCheckpoint(folder.File("m.safetensors"));
        int port = FreePort();
        var (process, lines, error) = Start("--checkpoint", folder.File("m.safetensors"), "--urls", $"http://127.0.0.1:{port}");
        using var owned = process;
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

            StopsCleanly(process, lines, "INT");
            Assert.Equal("", (await error).Trim());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task WithoutACheckpointItServesTheShippedModelWithItsCard()
    {
        int port = FreePort();
        var (process, lines, error) = Start("--urls", $"http://127.0.0.1:{port}", "--models", "1");
        using var owned = process;
        try
        {
            if (!lines.TryTake(out var first, TimeSpan.FromSeconds(60))) Assert.Fail("no output within a minute: " + await error);
            Assert.StartsWith($"Serving {ShippedModel.FileName} (", first);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var (status, json, _) = await ServeFixture.Send(client, HttpMethod.Get, "/api/model");
            Assert.Equal(200, status);
            Assert.Equal(File.ReadAllText(ConfigKeysTests.RepositoryFile(Path.Combine("models", "README.md"))), json.GetProperty("card").GetString());
            // A committed sample (its name starts with its digit) is read right.
            string sample = Directory.GetFiles(ConfigKeysTests.RepositoryFile(Path.Combine("models", "samples")), "7_*").Order().First();
            (status, json, var text) = await ServeFixture.Send(client, HttpMethod.Post, "/api/predict", ServeFixture.Raw(File.ReadAllBytes(sample)));
            Assert.True(status == 200, text);
            Assert.Equal(7, json.GetProperty("digit").GetInt32());
            StopsCleanly(process, lines, "TERM");
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
