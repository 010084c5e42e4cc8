// Load test of `ongko serve`: N POST /api/predict requests, C at a time, against a loopback address only.
// Prints requests/s, latency percentiles and errors (non-200 answers and failed connections); exits 1 on any error.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

string? url = null, imagePath = null;
int requests = 5000, concurrency = 32;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--url": url = Next(); break;
        case "--image": imagePath = Next(); break;
        case "--requests": requests = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--concurrency": concurrency = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine("usage: ServeLoad --url http://127.0.0.1:PORT --image FILE.png [--requests 5000] [--concurrency 32]"); return 2;
    }
}
if (url is null || imagePath is null) { Console.Error.WriteLine("ServeLoad: --url and --image are required"); return 2; }
var baseUri = new Uri(url);
if (!IPAddress.TryParse(baseUri.Host, out var ip) || !IPAddress.IsLoopback(ip))
{ Console.Error.WriteLine($"ServeLoad: {url} is not a loopback address (127.0.0.1 or ::1); this tool loads only the local machine"); return 2; }
if (requests < 1 || requests > 1_000_000 || concurrency < 1 || concurrency > 1024)
{ Console.Error.WriteLine("ServeLoad: --requests must be 1..1,000,000 and --concurrency 1..1024"); return 2; }
byte[] image = File.ReadAllBytes(imagePath);

using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{ BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(60) };

async Task<(bool Ok, double Milliseconds, string? Error)> One()
{
    var content = new ByteArrayContent(image);
    content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
    long start = Stopwatch.GetTimestamp();
    try
    {
        using var response = await client.PostAsync("/api/predict", content);
        await response.Content.ReadAsByteArrayAsync();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return response.StatusCode == HttpStatusCode.OK ? (true, ms, null) : (false, ms, $"HTTP {(int)response.StatusCode}");
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
    { return (false, Stopwatch.GetElapsedTime(start).TotalMilliseconds, e.GetType().Name + ": " + e.Message); }
}

// Warm-up (JIT, connections), not counted.
for (int i = 0; i < Math.Min(64, requests); i++) await One();

var latencies = new double[requests];
var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
int next = -1;
var clock = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
{
    int index;
    while ((index = Interlocked.Increment(ref next)) < requests)
    {
        var (ok, ms, error) = await One();
        latencies[index] = ms;
        if (!ok) errors.Add(error!);
    }
}));
double seconds = clock.Elapsed.TotalSeconds;
Array.Sort(latencies);
double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p / 100 * latencies.Length) - 1)];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{requests:N0} requests, {concurrency} at a time, {image.Length:N0}-byte PNG, {Environment.ProcessorCount} cores: {requests / seconds:N0} requests/s over {seconds:F1} s"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"latency ms: p50 {Percentile(50):F1}  p90 {Percentile(90):F1}  p99 {Percentile(99):F1}  max {latencies[^1]:F1}"));
Console.WriteLine($"errors: {errors.Count}" + (errors.IsEmpty ? "" : " (" + string.Join("; ", errors.GroupBy(e => e).Select(g => $"{g.Count()} x {g.Key}").Take(5)) + ")"));
return errors.IsEmpty ? 0 : 1;
