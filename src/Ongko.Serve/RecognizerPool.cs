using System.Collections.Concurrent;

namespace Ongko.Serve;

/// <summary>
/// A fixed set of recognizers shared by the requests: a request waits for a free one, uses it alone and hands it
/// back. So at most that many images are decoded and classified at once (bounded memory: decoding happens while the
/// recognizer is held, and the classifier makes no more model copies than there are concurrent calls), and a
/// recognizer's buffers are never used by two requests.
/// </summary>
public sealed class RecognizerPool
{
    readonly ConcurrentBag<IRecognizer> idle;
    readonly SemaphoreSlim free;

    public RecognizerPool(IReadOnlyList<IRecognizer> recognizers)
    {
        if (recognizers.Count == 0) throw new ArgumentException("the pool needs at least one recognizer", nameof(recognizers));
        idle = new ConcurrentBag<IRecognizer>(recognizers);
        free = new SemaphoreSlim(recognizers.Count, recognizers.Count);
        Description = recognizers[0].Describe();
        Size = recognizers.Count;
    }

    public ModelDescription Description { get; }
    public int Size { get; }

    /// <summary>Runs <paramref name="work"/> with a recognizer no other request holds meanwhile.</summary>
    public async Task<T> Run<T>(Func<IRecognizer, T> work, CancellationToken cancellation)
    {
        await free.WaitAsync(cancellation).ConfigureAwait(false);
        if (!idle.TryTake(out var recognizer)) { free.Release(); throw new InvalidOperationException("recognizer pool is inconsistent"); }
        try { return work(recognizer); }
        finally
        {
            idle.Add(recognizer);
            free.Release();
        }
    }
}
