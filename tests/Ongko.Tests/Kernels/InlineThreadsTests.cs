using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>Batch-1 evaluation runs its ranges on the calling thread: the same ranges, so the same result as handing them out.</summary>
[Collection(ThreadCountCollection.Name)]
public class InlineThreadsTests
{
    [Fact]
    public void InsideAnInlineScopeEveryRangeRunsOnTheCallingThread()
    {
        int saved = Threads.Count;
        Threads.Count = 2;
        try
        {
            var threadOf = new int[4];
            var ranges = new (int, int)[4];
            Action<int, int, int> body = (worker, start, end) => (threadOf[worker], ranges[worker]) = (Environment.CurrentManagedThreadId, (start, end));
            using (Threads.Inline()) Threads.ForRanges(7, body);
            Assert.Equal([Environment.CurrentManagedThreadId, Environment.CurrentManagedThreadId], threadOf[..2]);
            Assert.Equal([(0, 4), (4, 7)], ranges[..2]);
            // After the scope the workers take their ranges again (range 0 waits up to a second for range 1 to start: the
            // caller runs a range its worker has not claimed only after its own).
            bool handedOut = false;
            Action<int, int, int> waiting = (worker, start, end) =>
            {
                if (worker == 0) SpinWait.SpinUntil(() => Volatile.Read(ref threadOf[1]) != 0, 1000);
                else Volatile.Write(ref threadOf[1], Environment.CurrentManagedThreadId);
            };
            for (int attempt = 0; attempt < 20 && !handedOut; attempt++)
            {
                threadOf[1] = 0;
                Threads.ForRanges(2, waiting);
                handedOut = threadOf[1] != Environment.CurrentManagedThreadId;
            }
            Assert.True(handedOut);
        }
        finally { Threads.Count = saved; }
    }

    [Fact]
    public void EveryRangeRunsExactlyOnceWithItsWorkerIndexWhoeverRunsIt()
    {
        int saved = Threads.Count;
        Threads.Count = 2;
        try
        {
            // Between dispatches the worker may fall asleep (idle > 100 µs): the caller then runs its range after its own.
            var runs = new System.Collections.Concurrent.ConcurrentBag<(int Worker, int Start, int End)>();
            for (int attempt = 0; attempt < 30; attempt++)
            {
                runs.Clear();
                if (attempt % 3 == 0) Thread.Sleep(1);
                Threads.ForRanges(9, (worker, start, end) => runs.Add((worker, start, end)));
                Assert.Equal([(0, 0, 5), (1, 5, 9)], runs.OrderBy(r => r.Worker).ToArray());
            }
        }
        finally { Threads.Count = saved; }
    }

    [Fact]
    public void BatchOneEvaluationMatchesTheStepsRunWithTheWorkers()
    {
        int saved = Threads.Count;
        Threads.Count = 2;
        try
        {
            var model = new Sequential([new Conv2D(1, 8, 3, 1, 1, false), new BatchNorm2D(8), new ReLU(), new MaxPool2D(2, 2),
                                        new Conv2D(8, 24, 3, 1, 1), new ReLU(), new Flatten(), new Linear(40), new ReLU(),
                                        new Linear(10), new Softmax()]).Build([1, 12, 12], new Rng(11));
            var x = TestData.RandomTensor(new Rng(12), 1, 1, 12, 12);
            var inline = model.Forward(x, training: false).Span.ToArray();
            var handedOut = x;
            foreach (var step in model.EvaluationPlan.Steps) handedOut = step.Forward(handedOut, training: false);
            Assert.Equal(handedOut.Span.ToArray(), inline);
        }
        finally { Threads.Count = saved; }
    }
}
