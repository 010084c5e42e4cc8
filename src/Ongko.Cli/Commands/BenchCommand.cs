using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Ongko.Kernels;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko bench</c>: throughput of the engine on random batches — training and inference images/s,
/// batch-1 latency, allocation per step, and GEMM GFLOP/s. Medians over repeats, since machines are noisy.
/// </summary>
public static class BenchCommand
{
    public sealed record Result(
        string Model, int Batch, int Threads, bool Avx2,
        double TrainStepsPerSecond, double TrainImagesPerSecond, double InferImagesPerSecond,
        double Batch1LatencyMilliseconds, long AllocatedBytesPerTrainStep, double PeakTrainingRssMegabytes,
        IReadOnlyDictionary<int, double> GemmGflops);

    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "YAML config whose model to time (default: the built-in model3, 3x48x48)" };
        var batch = new Option<int>("--batch") { Description = "batch size", DefaultValueFactory = _ => 128 };
        var seconds = new Option<double>("--seconds") { Description = "time spent on each measurement", DefaultValueFactory = _ => 4 };
        var threads = new Option<int>("--threads") { Description = "worker threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of a table" };
        var noGemm = new Option<bool>("--no-gemm") { Description = "skip the GEMM measurements" };
        var gemmOnly = new Option<bool>("--gemm-only") { Description = "time only the SGEMM kernel (512, 1024, 2048)" };
        var profile = new Option<bool>("--profile") { Description = "print where a training step (forward and backward) and inference spend their time, step by step" };
        var data = new Option<bool>("--data") { Description = "time the data pipeline (preprocessing + augmentation) instead of the engine" };
        var dataDir = new Option<string>("--data-dir") { Description = "NumtaDB folder for --data", DefaultValueFactory = _ => "../shared/data/numtadb28" };
        var command = new Command("bench", "Time training and inference steps and the GEMM kernel on random data")
            { config, batch, seconds, threads, json, noGemm, gemmOnly, profile, data, dataDir };
        command.SetGuardedAction(parse =>
        {
            if (parse.GetValue(batch) < 1) throw new UsageException("--batch must be at least 1");
            if (parse.GetValue(threads) < 1) throw new UsageException("--threads must be at least 1");
            if (parse.GetValue(seconds) <= 0) throw new UsageException("--seconds must be positive");
            Threads.Count = parse.GetValue(threads);
            if (parse.GetValue(data)) return DataBench.Run(parse.GetValue(dataDir)!, parse.GetValue(seconds), parse.GetValue(json), Console.Out);
            if (parse.GetValue(gemmOnly))
            {
                Console.WriteLine($"SGEMM, kernel {Gemm.Description}, {Threads.Count} thread(s)");
                foreach (int size in new[] { 512, 1024, 2048 })
                {
                    var (median, best) = GemmGflopsMedianBest(size, parse.GetValue(seconds));
                    Console.WriteLine($"  SGEMM {size,4}  {median,8:F1} GFLOP/s median  {best,8:F1} best");
                }
                return 0;
            }
            var trainConfig = DefaultConfigs.LoadOrDefault(parse.GetValue(config));
            if (parse.GetValue(profile))
            {
                Profile(trainConfig, parse.GetValue(batch), parse.GetValue(seconds), Console.Out);
                return 0;
            }
            var result = Run(trainConfig, parse.GetValue(batch), parse.GetValue(seconds), !parse.GetValue(noGemm),
                             parse.GetValue(json) ? null : Console.Out);
            if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }

    /// <summary>The model with seeded weights, a random batch and its labels, a loss and an SGD optimizer.</summary>
    static (Sequential Model, Tensor Images, int[] Labels, CrossEntropyLoss Loss, Sgd Optimizer) Setup(TrainConfig config, int batch)
    {
        var rng = new Rng(config.Seed);
        var model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, rng);
        var images = new Tensor([batch, .. config.SampleShape]);
        foreach (ref float value in images.Span) value = rng.NextFloat();
        var labels = Enumerable.Range(0, batch).Select(_ => rng.NextInt(config.NumClass)).ToArray();
        return (model, images, labels, new CrossEntropyLoss(), new Sgd(model.Parameters, 0.001f, momentum: 0.9f));
    }

    public static Result Run(TrainConfig config, int batch, double seconds, bool gemm, TextWriter? log)
    {
        var (model, images, labels, loss, optimizer) = Setup(config, batch);
        log?.WriteLine($"Benchmarking {config.SourcePath}: batch {batch} x {Tensor.ShapeString(config.SampleShape)}, " +
                       $"{model.ParameterCount:#,0} parameters, {Threads.Count} thread(s), GEMM kernel {Gemm.Description}");

        double trainStep = MedianSeconds(() => TrainingStep.Run(model, loss, optimizer, images, labels), seconds);
        log?.WriteLine($"  training   {1 / trainStep,8:F2} steps/s  {batch / trainStep,9:F0} images/s");

        long before = GC.GetTotalAllocatedBytes(precise: true);
        const int allocationSteps = 3;
        for (int i = 0; i < allocationSteps; i++) TrainingStep.Run(model, loss, optimizer, images, labels);
        long allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / allocationSteps;
        log?.WriteLine($"  allocated  {allocated,8:#,0} bytes per training step (all threads)");
        // Peak resident memory so far: the process has only built the model and trained (no dataset).
        double peakRss = PeakRssMegabytes();
        log?.WriteLine($"  peak RSS   {peakRss,8:F0} MB while training");

        // Inference: the inference plan (compiled once with the weights, as prediction runs it) where the model has one, else
        // the evaluation plan; text output shows both.
        var inferencePlan = InferencePlan.TryCompile(model);
        Func<Tensor, Tensor> infer = inferencePlan is null ? input => model.Forward(input, training: false) : inferencePlan.Forward;
        string by = inferencePlan is null ? "(evaluation plan)" : "(inference plan)";
        double inferStep = MedianSeconds(() => infer(images), seconds);
        log?.WriteLine($"  inference  {batch / inferStep,29:F0} images/s {by}");
        var single = new Tensor([1, .. config.SampleShape]);
        images.Span[..single.Length].CopyTo(single.Span);
        double latency = MedianSeconds(() => infer(single), Math.Min(seconds, 2));
        log?.WriteLine($"  batch-1    {latency * 1000,8:F3} ms latency {by}");
        if (inferencePlan is not null && log is not null)
        {
            log.WriteLine($"  inference  {batch / MedianSeconds(() => model.Forward(images, training: false), seconds),29:F0} images/s (evaluation plan)");
            log.WriteLine($"  batch-1    {MedianSeconds(() => model.Forward(single, training: false), Math.Min(seconds, 2)) * 1000,8:F3} ms latency (evaluation plan)");
        }
        model.Forward(images, training: false);  // restore the batch-size buffers

        var gflops = new Dictionary<int, double>();
        if (gemm)
            foreach (int size in new[] { 512, 1024, 2048 })
            {
                gflops[size] = GemmGflops(size, Math.Min(seconds, 3));
                log?.WriteLine($"  SGEMM {size,4}  {gflops[size],8:F1} GFLOP/s");
            }
        return new Result(config.SourcePath, batch, Threads.Count, Gemm.UsesAvx2, 1 / trainStep, batch / trainStep,
                          batch / inferStep, latency * 1000, allocated, peakRss, gflops);
    }

    /// <summary>
    /// Times each step of the training plan, forward and backward, inside real training steps (median over
    /// steps), plus the loss and the optimizer, and prints one row per step.
    /// </summary>
    public static void Profile(TrainConfig config, int batch, double seconds, TextWriter log)
    {
        var (model, images, labels, loss, optimizer) = Setup(config, batch);
        var plan = model.TrainingPlan;
        int stepCount = plan.LogitSteps;
        var forward = new List<double>[stepCount];
        var backward = new List<double>[stepCount];
        for (int i = 0; i < stepCount; i++) { forward[i] = []; backward[i] = []; }
        List<double> lossTimes = [], stepTimes = [], totals = [];
        var total = Stopwatch.StartNew();
        for (int step = 0; step < 3 || (total.Elapsed.TotalSeconds < seconds && step < 1000); step++)
        {
            bool record = step > 0;  // the first step warms up
            long stepStart = Stopwatch.GetTimestamp();
            var x = images;
            for (int i = 0; i < stepCount; i++)
            {
                long t = Stopwatch.GetTimestamp();
                x = plan.Steps[i].Forward(x, training: true);
                if (record) forward[i].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            long lossStart = Stopwatch.GetTimestamp();
            loss.Forward(x, labels);
            var δ = loss.Backward();
            if (record) lossTimes.Add(Stopwatch.GetElapsedTime(lossStart).TotalMilliseconds);
            for (int i = stepCount - 1; i >= plan.FirstTrainedStep; i--)
            {
                long t = Stopwatch.GetTimestamp();
                δ = plan.Steps[i].Backward(δ, plan.NeedsInputGradient(i))!;   // as TrainingStep
                if (record) backward[i].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            long optimizerStart = Stopwatch.GetTimestamp();
            optimizer.Step();
            if (record)
            {
                stepTimes.Add(Stopwatch.GetElapsedTime(optimizerStart).TotalMilliseconds);
                totals.Add(Stopwatch.GetElapsedTime(stepStart).TotalMilliseconds);
            }
        }
        static double Median(List<double> values) { var sorted = values.Order().ToList(); return sorted[sorted.Count / 2]; }
        double stepMedian = Median(totals);
        log.WriteLine($"Profile of one training step: {config.SourcePath}, batch {batch}, {Threads.Count} thread(s), median of {totals.Count} steps");
        log.WriteLine($"  {"#",2}  {"step (declared layer #)",-32} {"forward ms",11} {"backward ms",12} {"share",7}");
        for (int i = 0; i < stepCount; i++)
        {
            double f = Median(forward[i]), b = backward[i].Count > 0 ? Median(backward[i]) : 0;
            log.WriteLine($"  {plan.Steps[i].FirstLayer,2}  {plan.Steps[i].ToString(),-32} {f,11:F3} {b,12:F3} {(f + b) / stepMedian,7:P1}");
        }
        log.WriteLine($"      {"loss (forward+backward)",-32} {Median(lossTimes),11:F3} {"",12} {Median(lossTimes) / stepMedian,7:P1}");
        log.WriteLine($"      {"SGD step",-32} {Median(stepTimes),11:F3} {"",12} {Median(stepTimes) / stepMedian,7:P1}");
        log.WriteLine($"      {"whole step (median)",-32} {stepMedian,11:F3} ms = {batch / stepMedian * 1000:F0} images/s");
        ProfileInference(model, images, seconds, log);
    }

    /// <summary>Times each step of the evaluation plan (the one inference runs) at the batch size and at batch 1 (medians).</summary>
    static void ProfileInference(Sequential model, Tensor images, double seconds, TextWriter log)
    {
        var plan = model.EvaluationPlan;
        var single = new Tensor([1, .. images.Shape[1..]]);
        images.Span[..single.Length].CopyTo(single.Span);
        var batchTimes = StepMedians(plan, images, seconds / 2);
        var singleTimes = StepMedians(plan, single, seconds / 2);
        log.WriteLine($"Profile of inference (evaluation plan), batch {images[0]} and batch 1, {Threads.Count} thread(s)");
        log.WriteLine($"  {"#",2}  {"step (declared layer #)",-72} {$"batch {images[0]} ms",12} {"batch 1 ms",11}");
        for (int i = 0; i < plan.Steps.Count; i++)
            log.WriteLine($"  {plan.Steps[i].FirstLayer,2}  {plan.Steps[i].ToString(),-72} {batchTimes[i],12:F3} {singleTimes[i],11:F3}");
        log.WriteLine($"      {"sum of the steps",-72} {batchTimes.Sum(),12:F3} {singleTimes.Sum(),11:F3}");
        if (InferencePlan.TryCompile(model) is { } inferencePlan)
        {
            var passTimes = PassMedians(inferencePlan, single, seconds / 2);
            log.WriteLine($"Profile of the inference plan (batch 1, weights packed once), {Threads.Count} thread(s)");
            for (int i = 0; i < inferencePlan.Passes.Count; i++) log.WriteLine($"      {inferencePlan.Passes[i].Name,-72} {"",12} {passTimes[i],11:F3}");
            log.WriteLine($"      {"sum of the passes",-72} {"",12} {passTimes.Sum(),11:F3}");
            log.WriteLine($"      {"whole forward (median)",-72} {"",12} {MedianSeconds(() => inferencePlan.Forward(single), seconds / 2) * 1000,11:F3}");
        }
        model.Forward(images, training: false);   // the batch-size buffers again
    }

    /// <summary>Median milliseconds of each plan step over whole forward passes on <paramref name="input"/>.</summary>
    static double[] StepMedians(ExecutionPlan plan, Tensor input, double seconds)
    {
        var times = new List<double>[plan.Steps.Count];
        for (int i = 0; i < times.Length; i++) times[i] = [];
        var total = Stopwatch.StartNew();
        for (int pass = 0; pass < 3 || (total.Elapsed.TotalSeconds < seconds && pass < 2000); pass++)
        {
            var x = input;
            for (int i = 0; i < plan.Steps.Count; i++)
            {
                long t = Stopwatch.GetTimestamp();
                x = plan.Steps[i].Forward(x, training: false);
                if (pass > 0) times[i].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        }
        return times.Select(list => list.Order().ElementAt(list.Count / 2)).ToArray();
    }

    /// <summary>Median milliseconds of each latency-plan pass over whole forwards of one image.</summary>
    static double[] PassMedians(InferencePlan plan, Tensor single, double seconds)
    {
        var times = new List<double>[plan.Passes.Count];
        for (int i = 0; i < times.Length; i++) times[i] = [];
        plan.Forward(single);
        var total = Stopwatch.StartNew();
        for (int pass = 0; pass < 3 || (total.Elapsed.TotalSeconds < seconds && pass < 20000); pass++)
            for (int i = 0; i < plan.Passes.Count; i++)
            {
                long t = Stopwatch.GetTimestamp();
                plan.RunPass(i);
                times[i].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        return times.Select(list => list.Order().ElementAt(list.Count / 2)).ToArray();
    }

    /// <summary>The process's peak resident set (VmHWM on Linux), in MB.</summary>
    public static double PeakRssMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    public static double GemmGflops(int size, double seconds) => GemmGflopsMedianBest(size, seconds).Median;

    /// <summary>GFLOP/s of a square SGEMM: median and best over repeats (the best is the least disturbed by other jobs).</summary>
    public static (double Median, double Best) GemmGflopsMedianBest(int size, double seconds)
    {
        var rng = new Rng((ulong)size);
        var a = new float[size * size];
        var b = new float[size * size];
        var c = new float[size * size];
        for (int i = 0; i < a.Length; i++) { a[i] = rng.NextFloat(); b[i] = rng.NextFloat(); }
        var times = Times(() => Gemm.Multiply(false, false, size, size, size, a, size, b, size, c, size, false, parallel: true), seconds);
        double flop = 2.0 * size * size * size;
        return (flop / times[times.Count / 2] / 1e9, flop / times[0] / 1e9);
    }

    /// <summary>Runs once to warm up, then repeatedly for about <paramref name="budget"/> seconds; returns the median time.</summary>
    public static double MedianSeconds(Action action, double budget)
    {
        var times = Times(action, budget);
        return times[times.Count / 2];
    }

    /// <summary>Sorted times of repeated runs after one warm-up run.</summary>
    static List<double> Times(Action action, double budget)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < budget && times.Count < 1000))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        times.Sort();
        return times;
    }
}
