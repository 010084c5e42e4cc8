using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Tests.Plan;

/// <summary>
/// The inference plan against the model's own evaluation (BatchNorm statistics made non-trivial so folding matters), for
/// every config in configs/ it compiles, the shipped model and random stacks, by every kernel this CPU has and at 1 and
/// 2 threads (the same bits either way).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class InferencePlanTests
{
    static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ongko.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new DirectoryNotFoundException($"{relative} not found");
    }

    /// <summary>Random running statistics and affine parameters in every BatchNorm.</summary>
    static Sequential Perturbed(Sequential model, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var norm in model.Layers.OfType<BatchNorm>())
        {
            foreach (ref float v in norm.RunningMean.Span) v = rng.NextFloat() - 0.5f;
            foreach (ref float v in norm.RunningVariance.Span) v = 0.5f + rng.NextFloat();
            foreach (ref float v in norm.Weight.Value.Span) v = 0.5f + rng.NextFloat();
            foreach (ref float v in norm.Bias.Value.Span) v = rng.NextFloat() - 0.5f;
        }
        foreach (var parameter in model.Parameters.Where(p => p.Name == "bias" && p.Value.Rank == 1))
            foreach (ref float v in parameter.Value.Span) v = (rng.NextFloat() - 0.5f) * 0.2f;
        return model;
    }

    /// <summary>
    /// The plan's output for 1, 3 and 9 images (one image with its passes split, images split over the workers, and the
    /// Linears as one GEMM) equals the evaluation's within rounding, by each kernel, at 1 and 2 threads (bitwise equal).
    /// </summary>
    static void AssertMatchesEvaluation(Sequential model, string what)
    {
        var plan = InferencePlan.TryCompile(model);
        Assert.True(plan is not null, $"{what}: not compiled");
        int saved = Threads.Count;
        try
        {
            InferencePlan.ParallelMinimumWork = 0;   // split every pass at 2 threads
            foreach (int count in new[] { 1, 3, 9 })
            {
                var x = TestData.RandomTensor(new Rng((ulong)count), [count, .. model.InputShape]);
                foreach (ref float v in x.Span) v = Math.Abs(v);
                Threads.Count = saved;
                var expected = model.Forward(x, training: false).Span.ToArray();
                foreach (var kernel in Enum.GetValues<GemmKernel>().Where(kernel => kernel <= Gemm.Best))
                {
                    using var tuning = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
                    Threads.Count = 1;
                    var single = plan!.Forward(x).Span.ToArray();
                    TestData.AssertClose(expected, single, 2e-5, 2e-4, $"{what}, {count} image(s), {kernel}");
                    Threads.Count = 2;
                    Assert.Equal(single, plan.Forward(x).Span.ToArray());
                }
            }
        }
        finally
        {
            Threads.Count = saved;
            InferencePlan.ParallelMinimumWork = 150_000;
        }
    }

    [Fact]
    public void EveryConfigItCompilesMatchesTheEvaluation()
    {
        int compiled = 0;
        foreach (string file in Directory.GetFiles(RepositoryFile("configs"), "*.yaml"))
        {
            var config = ConfigFile.Load(file);
            var model = Perturbed(LayerFactory.Create(config.Model, file).Build(config.SampleShape, new Rng(3)), 4);
            if (InferencePlan.TryCompile(model) is null) continue;
            AssertMatchesEvaluation(model, Path.GetFileName(file));
            compiled++;
        }
        Assert.True(compiled >= 3, $"only {compiled} configs compiled");
    }

    [Fact]
    public void TheShippedModelMatchesItsEvaluation()
    {
        string path = RepositoryFile(Path.Combine("models", "ongko-digits.safetensors"));
        var model = Checkpoint.LoadModel(path, Checkpoint.Read(path));
        AssertMatchesEvaluation(model, "shipped");
    }

    [Fact]
    public void RandomStacksMatchTheEvaluation()
    {
        var rng = new Rng(2024);
        for (int trial = 0; trial < 6; trial++)
        {
            int channels = 1 + rng.NextInt(4), size = 6 + rng.NextInt(14);
            var layers = new List<Layer>();
            int c = channels, h = size;
            for (int block = 0; block < 1 + rng.NextInt(3); block++)
            {
                int outChannels = 1 + rng.NextInt(70), k = h >= 3 ? 1 + 2 * rng.NextInt(2) : 1, padding = rng.NextInt(k / 2 + 1), stride = h > 8 && rng.NextInt(4) == 0 ? 2 : 1;
                bool bias = rng.NextInt(2) == 0;
                layers.Add(new Conv2D(c, outChannels, k, stride, padding, bias));
                h = (h + 2 * padding - k) / stride + 1;
                if (rng.NextInt(2) == 0) layers.Add(new BatchNorm2D(outChannels));
                if (rng.NextInt(3) > 0) layers.Add(new ReLU());
                if (h >= 4 && rng.NextInt(2) == 0) { layers.Add(new MaxPool2D(2, 2)); h /= 2; }
                if (rng.NextInt(4) == 0) layers.Add(new Dropout(0.3f));
                c = outChannels;
            }
            layers.Add(new Flatten());
            for (int l = 0; l < 1 + rng.NextInt(3); l++)
            {
                int features = 1 + rng.NextInt(150);
                layers.Add(new Linear(features, rng.NextInt(2) == 0));
                if (rng.NextInt(2) == 0) layers.Add(new BatchNorm1D(features));
                if (rng.NextInt(2) == 0) layers.Add(new ReLU());
            }
            if (rng.NextInt(2) == 0) layers.Add(new Softmax());
            var model = Perturbed(new Sequential(layers).Build([channels, size, size], new Rng((ulong)trial)), (ulong)trial);
            AssertMatchesEvaluation(model, $"trial {trial}: {string.Join(" ", layers)}");
        }
    }

    [Fact]
    public void OtherLayerSequencesAreNotCompiled()
    {
        var rng = new Rng(1);
        Assert.Null(InferencePlan.TryCompile(new Sequential([new Conv2D(1, 4, 3), new MaxPool2D(3, 3), new Flatten(), new Linear(3)]).Build([1, 9, 9], rng)));
        Assert.Null(InferencePlan.TryCompile(new Sequential([new Conv2D(1, 4, 3), new ReLU(), new ReLU(), new Flatten(), new Linear(3)]).Build([1, 9, 9], rng)));
        Assert.Null(InferencePlan.TryCompile(new Sequential([new Conv2D(1, 4, 3), new Flatten()]).Build([1, 9, 9], rng)));
        Assert.NotNull(InferencePlan.TryCompile(new Sequential([new Flatten(), new Linear(5), new ReLU(), new Linear(2), new Softmax()]).Build([1, 3, 3], rng)));
    }

    [Fact]
    public void TheWeightsAreACopyTakenWhenCompiled()
    {
        var model = new Sequential([new Conv2D(1, 4, 3, 1, 1), new ReLU(), new Flatten(), new Linear(3)]).Build([1, 5, 5], new Rng(2));
        var plan = InferencePlan.TryCompile(model)!;
        var x = TestData.RandomTensor(new Rng(3), 1, 1, 5, 5);
        var before = plan.Forward(x).Span.ToArray();
        model.Layers.OfType<Conv2D>().First().Weight.Value.Span.Fill(0);
        Assert.Equal(before, plan.Forward(x).Span.ToArray());
        Assert.NotEqual(before, InferencePlan.TryCompile(model)!.Forward(x).Span.ToArray());
    }
}
