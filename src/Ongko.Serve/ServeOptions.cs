namespace Ongko.Serve;

/// <summary>How the server listens and what it accepts.</summary>
public sealed record ServeOptions
{
    /// <summary>Loopback only unless told otherwise.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    public IReadOnlyList<string> Urls { get; init; } = [DefaultUrl];
    /// <summary>Largest request body; a bigger one is refused with 413.</summary>
    public long MaxBodyBytes { get; init; } = 4L << 20;
    /// <summary>Largest width × height an image's header may declare; a bigger one is refused with 400 before decoding.</summary>
    public long MaxImagePixels { get; init; } = 25_000_000;
    /// <summary>Most images in one <c>POST /api/predict/batch</c>.</summary>
    public int MaxBatchImages { get; init; } = 64;
    /// <summary>Models kept for concurrent requests (each request holds one while it runs).</summary>
    public int PoolSize { get; init; } = Math.Max(1, Environment.ProcessorCount);
}
