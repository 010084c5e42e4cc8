namespace Ongko.Kernels;

/// <summary>
/// How many cores the kernels spread over, and the one helper they use to do it.
/// Work is cut into fixed contiguous ranges (not work-stealing), so results do not depend on scheduling.
/// </summary>
public static class Threads
{
    static int count = Environment.ProcessorCount;

    /// <summary>Worker count for all kernels; defaults to the number of cores.</summary>
    public static int Count
    {
        get => count;
        set => count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "thread count must be at least 1");
    }

    static readonly ParallelOptions[] optionsByCount = Enumerable.Range(0, 257)
        .Select(n => new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, n) }).ToArray();

    /// <summary>
    /// Splits [0, itemCount) into at most <see cref="Count"/> contiguous ranges and runs
    /// body(worker, start, end) for each; worker indexes are 0..ranges-1 and fixed for a given count.
    /// </summary>
    public static void ForRanges(int itemCount, Action<int, int, int> body, int maxWorkers = int.MaxValue)
    {
        int workers = Math.Min(Math.Min(count, itemCount), maxWorkers);
        if (workers <= 1)
        {
            if (itemCount > 0) body(0, 0, itemCount);
            return;
        }
        Parallel.For(0, workers, optionsByCount[Math.Min(workers, 256)], worker =>
        {
            var (start, end) = Range(itemCount, workers, worker);
            body(worker, start, end);
        });
    }

    /// <summary>The number of ranges ForRanges will use for itemCount items.</summary>
    public static int WorkerCount(int itemCount) => Math.Max(1, Math.Min(count, itemCount));

    public static (int Start, int End) Range(int itemCount, int workers, int worker)
    {
        int baseSize = itemCount / workers, extra = itemCount % workers;
        int start = worker * baseSize + Math.Min(worker, extra);
        return (start, start + baseSize + (worker < extra ? 1 : 0));
    }
}
