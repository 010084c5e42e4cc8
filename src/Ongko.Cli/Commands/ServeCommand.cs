using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Hosting;
using Ongko.Serve;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko serve [--checkpoint CKPT] [--urls URL]</c>: the drawing page and the JSON API (see Ongko.Serve) for a
/// checkpoint (the shipped model by default), on 127.0.0.1 unless told otherwise; Ctrl-C stops it.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "checkpoint to serve (default: the shipped model)" };
        var urls = new Option<string>("--urls") { Description = "where to listen, e.g. http://127.0.0.1:5000; several separated by ';'", DefaultValueFactory = _ => ServeOptions.DefaultUrl };
        var maxBody = new Option<long>("--max-body") { Description = "largest request body in bytes (bigger: 413)", DefaultValueFactory = _ => new ServeOptions().MaxBodyBytes };
        var maxPixels = new Option<long>("--max-pixels") { Description = "largest width x height an image may declare (bigger: 400, before decoding)", DefaultValueFactory = _ => new ServeOptions().MaxImagePixels };
        var pool = new Option<int>("--models") { Description = "model copies for concurrent requests", DefaultValueFactory = _ => new ServeOptions().PoolSize };
        var card = new Option<string?>("--card") { Description = "Markdown model card to show (default: CKPT with extension .md when it exists; models/README.md for the shipped model)" };
        var command = new Command("serve", "Serve a page to draw digits on and a JSON API that classifies images") { checkpoint, urls, maxBody, maxPixels, pool, card };
        command.SetGuardedAction(parse => Run(parse.GetValue(checkpoint), parse.GetValue(urls)!, parse.GetValue(maxBody), parse.GetValue(maxPixels),
                                              parse.GetValue(pool), parse.GetValue(card), Console.Out));
        return command;
    }

    public static int Run(string? checkpointPath, string urls, long maxBody, long maxPixels, int poolSize, string? cardPath, TextWriter output)
    {
        if (maxBody < 1) throw new UsageException("--max-body must be at least 1 byte");
        if (maxPixels < 1) throw new UsageException("--max-pixels must be at least 1");
        if (poolSize is < 1 or > 256) throw new UsageException("--models must be 1..256");
        var addresses = ParseUrls(urls);
        if (checkpointPath is null)
        {
            checkpointPath = ShippedModel.Require();
            // The shipped model's card is models/README.md, copied beside it.
            string shippedCard = Path.Combine(Path.GetDirectoryName(checkpointPath)!, "README.md");
            if (cardPath is null && File.Exists(shippedCard)) cardPath = shippedCard;
        }
        if (cardPath is null && Path.ChangeExtension(checkpointPath, ".md") is { } besides && File.Exists(besides)) cardPath = besides;

        var recognizers = ClassifierRecognizer.Load(checkpointPath, poolSize, cardPath);
        var options = new ServeOptions { Urls = addresses, MaxBodyBytes = maxBody, MaxImagePixels = maxPixels, PoolSize = poolSize };
        DigitServer.WarmUp(recognizers, options);
        var log = TextWriter.Synchronized(output);
        using var app = DigitServer.Build(new RecognizerPool(recognizers), options, log);
        try { app.StartAsync().GetAwaiter().GetResult(); }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        { throw new UsageException($"cannot listen on {urls}: {e.Message}"); }
        var description = recognizers[0].Describe();
        output.WriteLine($"Serving {description.Name} ({description.Parameters:N0} parameters) on {string.Join(", ", app.Urls)}; Ctrl-C stops.");
        foreach (var address in addresses.Where(a => !IsLoopback(a)))
            output.WriteLine($"Note: {address} is reachable from other machines; this server has no authentication.");
        app.WaitForShutdownAsync().GetAwaiter().GetResult();
        output.WriteLine("Stopped.");
        return 0;
    }

    static string[] ParseUrls(string text)
    {
        var urls = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0) throw new UsageException("--urls is empty; e.g. --urls http://127.0.0.1:5000");
        foreach (var url in urls)
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http" || uri.AbsolutePath != "/" || uri.Query.Length > 0)
                throw new UsageException($"--urls: '{url}' is not an address like http://127.0.0.1:5000 (http only, no path)");
        return urls;
    }

    static bool IsLoopback(string url)
    {
        string host = new Uri(url).Host;
        return host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
