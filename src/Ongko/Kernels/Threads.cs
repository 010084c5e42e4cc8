namespace Ongko.Kernels;

/// <summary>
/// How many cores the kernels spread over, and the one helper they use to do it.
/// Work is cut into fixed contiguous ranges (not work-stealing), so results do not depend on scheduling.
/// The ranges run on a small pool of persistent worker threads (the caller runs range 0 itself):
/// a dispatch allocates nothing and wakes the workers by a shared counter they spin on briefly
/// before blocking, so back-to-back parallel loops in a training step cost microseconds, not a
/// task-scheduler round trip. A range whose worker has not started it 10 µs after the dispatch (asleep,
/// or its core taken by another process) is run by the caller after its own: a busy machine costs
/// at most the second core, not a scheduler time slice per dispatch.
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

    /// <summary>
    /// Splits [0, itemCount) into at most <see cref="Count"/> contiguous ranges and runs
    /// body(worker, start, end) for each; worker indexes are 0..ranges-1 and fixed for a given count.
    /// Called from inside a range (nested) or while another thread holds the pool, the ranges run one
    /// after another on the calling thread: the same ranges, so the same results.
    /// </summary>
    public static void ForRanges(int itemCount, Action<int, int, int> body, int maxWorkers = int.MaxValue)
    {
        int workers = Math.Min(Math.Min(Math.Min(count, itemCount), maxWorkers), MaxWorkers);
        if (workers <= 1)
        {
            if (itemCount > 0) body(0, 0, itemCount);
            return;
        }
        if (insidePool || inlineDepth > 0 || !Monitor.TryEnter(dispatchLock))
        {
            for (int worker = 0; worker < workers; worker++)
            {
                var (start, end) = Range(itemCount, workers, worker);
                body(worker, start, end);
            }
            return;
        }
        try { Pool.Run(itemCount, workers, body); }
        finally { Monitor.Exit(dispatchLock); }
    }

    /// <summary>One zeroed buffer of <paramref name="length"/> per worker (a loop, not a lambda: a lambda capturing a caller's local costs
    /// an allocation on every call of that caller).</summary>
    public static T[][] PerWorker<T>(int workers, int length)
    {
        var buffers = new T[workers][];
        for (int i = 0; i < workers; i++) buffers[i] = new T[length];
        return buffers;
    }

    /// <summary>The number of ranges ForRanges will use for itemCount items.</summary>
    public static int WorkerCount(int itemCount) => Math.Max(1, Math.Min(Math.Min(count, itemCount), MaxWorkers));

    const int MaxWorkers = 256;

    public static (int Start, int End) Range(int itemCount, int workers, int worker)
    {
        int baseSize = itemCount / workers, extra = itemCount % workers;
        int start = worker * baseSize + Math.Min(worker, extra);
        return (start, start + baseSize + (worker < extra ? 1 : 0));
    }

    /// <summary>
    /// Until the scope is disposed, <see cref="ForRanges"/> on this thread runs its ranges one after another on the calling
    /// thread: the same ranges, so the same results, without waking the workers (for work too small to pay for the hand-off).
    /// </summary>
    public static InlineScope Inline()
    {
        inlineDepth++;
        return new InlineScope();
    }

    /// <summary>Ends an <see cref="Inline"/> scope.</summary>
    public readonly struct InlineScope : IDisposable
    {
        public void Dispose() => inlineDepth--;
    }

    static readonly object dispatchLock = new();
    [ThreadStatic] static bool insidePool;
    [ThreadStatic] static int inlineDepth;

    /// <summary>Persistent workers 1..n-1; grows when <see cref="Count"/> grows, never shrinks.</summary>
    static class Pool
    {
        static readonly object sleepLock = new();
        static Thread[] threads = [];
        static Action<int, int, int>? body;
        static int itemCount, workers;
        static readonly int[] tickets = new int[(MaxWorkers + 1) * 16];  // tickets[i * 16]: bumped when worker i has a range to run (16 ints apart: own cache line)
        static readonly int[] claims = new int[(MaxWorkers + 1) * 16];   // claims[i * 16]: the last ticket whose range i was claimed, by worker i or by the caller
        static readonly long StealAfter = System.Diagnostics.Stopwatch.Frequency / 100_000;   // 10 µs (a spinning worker claims its range within ~1 µs)
        static int pending;      // ranges not finished yet (workers 1..n-1)
        static int sleepers;     // workers blocked in Monitor.Wait
        static Exception? error;

        public static void Run(int items, int workerCount, Action<int, int, int> work)
        {
            EnsureThreads(workerCount - 1);
            (body, itemCount, workers, error) = (work, items, workerCount, null);
            Volatile.Write(ref pending, workerCount - 1);
            for (int i = 1; i < workerCount; i++)
                Interlocked.Increment(ref tickets[i * 16]);  // full fence: publishes the job before the worker sees its ticket
            if (Volatile.Read(ref sleepers) > 0)
                lock (sleepLock) Monitor.PulseAll(sleepLock);
            long dispatched = System.Diagnostics.Stopwatch.GetTimestamp();
            insidePool = true;
            Exception? mine = null;
            try
            {
                var (start, end) = Range(items, workerCount, 0);
                work(0, start, end);
                // A worker that has not claimed its range StealAfter after the dispatch (asleep, or its core busy with another
                // process) has it run here instead: the same range with the same worker index, so the same results.
                for (int i = 1; i < workerCount; i++)
                {
                    int ticket = Volatile.Read(ref tickets[i * 16]);
                    while (Volatile.Read(ref claims[i * 16]) != ticket
                           && System.Diagnostics.Stopwatch.GetTimestamp() - dispatched < StealAfter) Thread.SpinWait(10);
                    if (Interlocked.CompareExchange(ref claims[i * 16], ticket, ticket - 1) != ticket - 1) continue;
                    (start, end) = Range(items, workerCount, i);
                    try { work(i, start, end); }
                    finally { Interlocked.Decrement(ref pending); }
                }
            }
            catch (Exception e) { mine = e; }
            finally { insidePool = false; }
            var spin = new SpinWait();
            while (Volatile.Read(ref pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            body = null;
            if (mine is not null) throw mine;
            if (error is not null) throw new AggregateException(error);
        }

        static void EnsureThreads(int needed)
        {
            if (threads.Length >= needed) return;
            var grown = new Thread[needed];
            threads.CopyTo(grown, 0);
            for (int i = threads.Length; i < needed; i++)
            {
                int index = i + 1;
                grown[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"Ongko worker {index}" };
                grown[i].Start();
            }
            threads = grown;
        }

        static void WorkerLoop(int index)
        {
            insidePool = true;
            int seen = 0;
            while (true)
            {
                seen = WaitForNext(index, seen);
                // Claim this ticket's range; the caller may have run it already (it waited too long for this worker).
                if (Interlocked.CompareExchange(ref claims[index * 16], seen, seen - 1) != seen - 1) continue;
                int workerCount = workers;
                try
                {
                    var (start, end) = Range(itemCount, workerCount, index);
                    body!(index, start, end);
                }
                catch (Exception e) { Interlocked.CompareExchange(ref error, e, null); }
                Interlocked.Decrement(ref pending);
            }
        }

        /// <summary>Spins for about 100 µs, then blocks, until worker <paramref name="index"/>'s ticket moves past <paramref name="seen"/>.</summary>
        static int WaitForNext(int index, int seen)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 10_000;
            int current;
            while ((current = Volatile.Read(ref tickets[index * 16])) == seen)
            {
                Thread.SpinWait(20);
                if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                {
                    lock (sleepLock)
                    {
                        Interlocked.Increment(ref sleepers);  // full fence before re-reading the ticket
                        while ((current = Volatile.Read(ref tickets[index * 16])) == seen) Monitor.Wait(sleepLock);
                        Interlocked.Decrement(ref sleepers);
                    }
                    break;
                }
            }
            return current;
        }
    }
}
