using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Tests.Cli;
using Ongko.Training;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Tests.Training;

/// <summary>Distillation: teachers' probabilities on a step's own images joining its targets (distill_from).</summary>
public class DistillationTests
{
    const string Layers = """
          - [Flatten, []]
          - [Linear, [32]]
          - [ReLU, []]
          - [Linear, [10]]
        """;

    static Sequential Model(ulong seed, bool softmax = true, int size = 20) =>
        LayerFactory.Create(ConfigFile.Parse("model:\n" + Layers + (softmax ? "\n  - [Softmax, []]" : ""), "m.yaml").Model, "m.yaml")
                    .Build([1, size, size], new Rng(seed));

    static Tensor Images(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var images = new Tensor(count, 1, 20, 20);
        for (int i = 0; i < images.Length; i++) images.Span[i] = (float)rng.NextDouble();
        return images;
    }

    static float[] Probabilities(Sequential model, Tensor images) => model.Forward(images, training: false).Span.ToArray();

    [Fact]
    public void TargetsMixTheTeachersMeanProbabilitiesWithTheLabels()
    {
        var (a, b) = (Model(1), Model(2));
        var images = Images(5, 7);
        int[] labels = [3, 0, 9, 3, 5];
        var targets = new Distillation([a, b], weight: 0.7f, temperature: 1).Targets(images, labels, softTargets: null).Span.ToArray();
        float[] pa = Probabilities(a, images), pb = Probabilities(b, images);
        Assert.True(TensorPrimitives.Distance(pa, pb) > 0.01f, "the two teachers must disagree for the mean to be tested");
        for (int n = 0; n < 5; n++)
            for (int c = 0; c < 10; c++)
            {
                float expected = 0.7f * (pa[n * 10 + c] + pb[n * 10 + c]) / 2 + (c == labels[n] ? 0.3f : 0);
                Assert.Equal(expected, targets[n * 10 + c], 5);
            }
        for (int n = 0; n < 5; n++) Assert.Equal(1, targets.AsSpan(n * 10, 10).ToArray().Sum(), 5);
    }

    [Fact]
    public void TemperatureSoftensLikeSoftmaxOfScaledLogits()
    {
        // A teacher without Softmax puts out logits; T = 2 must give softmax(z / 2), with or without a final Softmax layer.
        var logitsTeacher = Model(3, softmax: false);
        var softmaxTeacher = Model(3, softmax: true);
        var images = Images(4, 8);
        var z = logitsTeacher.Forward(images, training: false).Span.ToArray();
        foreach (var teacher in new[] { logitsTeacher, softmaxTeacher })
        {
            var targets = new Distillation([teacher], weight: 1, temperature: 2).Targets(images, [0, 0, 0, 0], null).Span.ToArray();
            for (int n = 0; n < 4; n++)
            {
                var expected = new float[10];
                TensorPrimitives.Divide(z.AsSpan(n * 10, 10), 2f, expected);
                TensorPrimitives.SoftMax(expected, expected);
                for (int c = 0; c < 10; c++) Assert.Equal(expected[c], targets[n * 10 + c], 5);
            }
            // and softer than the teacher itself: the largest probability drops
            var p = new float[10];
            TensorPrimitives.SoftMax(z.AsSpan(0, 10), p);
            Assert.True(targets.AsSpan(0, 10).ToArray().Max() < p.Max());
        }
    }

    [Fact]
    public void MixedBatchesKeepTheirSoftRows()
    {
        var teacher = Model(4);
        var images = Images(3, 9);
        var soft = new Tensor(3, 10);
        for (int n = 0; n < 3; n++) { soft.Span[n * 10 + n] = 0.6f; soft.Span[n * 10 + 9 - n] = 0.4f; }
        var targets = new Distillation([teacher], weight: 0.4f, temperature: 1).Targets(images, [1, 1, 1], soft).Span.ToArray();
        var p = Probabilities(teacher, images);
        for (int i = 0; i < 30; i++) Assert.Equal(0.4f * p[i] + 0.6f * soft.Span[i], targets[i], 5);
    }

    [Fact]
    public void AStudentLearnsFromTheTeacherAloneWhenItsLabelsAreScrambled()
    {
        var (pixels, labels) = FitTests.Bars(400, 1);
        float[] images = pixels.Select(p => p / 255f).ToArray();
        int[] truth = labels.Select(l => (int)l).ToArray();
        var valid = new ArrayBatchSource(images[(300 * 400)..], truth[300..], [1, 20, 20], batchSize: 100);
        var options = ConfigFile.Parse("epochs: 4\nlr: 0.1\nmomentum: 0.9\nmodel:\n" + Layers + "\n  - [Softmax, []]", "bars.yaml");

        var teacher = Model(1);
        Trainer.Fit(teacher, new ArrayBatchSource(images[..(300 * 400)], truth[..300], [1, 20, 20], 32, shuffle: true, seed: 3), valid, options);

        // The student's training labels are a fixed wrong class (label + 1): alone, they teach it the wrong answer every time.
        int[] scrambled = truth[..300].Select(l => (l + 1) % 10).ToArray();
        ArrayBatchSource Scrambled() => new(images[..(300 * 400)], scrambled, [1, 20, 20], 32, shuffle: true, seed: 3);
        var distilled = Trainer.Fit(Model(2), Scrambled(), valid, options, distillation: new Distillation([teacher], weight: 1, temperature: 1));
        var fromLabels = Trainer.Fit(Model(2), Scrambled(), valid, options);
        Assert.True(distilled.History[^1].ValidAccuracy > 0.9, $"distilled student: validation accuracy {distilled.History[^1].ValidAccuracy}");
        Assert.True(fromLabels.History[^1].ValidAccuracy < 0.2, $"label-trained student: validation accuracy {fromLabels.History[^1].ValidAccuracy}");
    }

    [Fact]
    public void FitRefusesTeachersOfAnotherInputShape()
    {
        var options = ConfigFile.Parse("epochs: 1\nmodel:\n" + Layers, "m.yaml");
        var source = new ArrayBatchSource(new float[4 * 400], [0, 1, 2, 3], [1, 20, 20], 2);
        var ex = Assert.Throws<ArgumentException>(() => Trainer.Fit(Model(1), source, null, options,
                                                                     distillation: new Distillation([Model(2, size: 12)], 0.5f, 1)));
        Assert.Contains("teachers take [1, 12, 12]", ex.Message);
    }

    [Fact]
    public void TeachersMustShareTheirInputShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Distillation([Model(1), Model(2, size: 12)], 0.5f, 1));
        Assert.Contains("different input shapes", ex.Message);
    }

    [Theory]
    [InlineData("distill_weight: 1.5", "distill_weight")]
    [InlineData("distill_temperature: 0", "distill_temperature must be > 0")]
    public void BadDistillationKeysNameTheKey(string line, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigFile.Parse("epochs: 1\n" + line + "\nmodel:\n" + Layers, "bad.yaml"));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void OngkoTrainDistilsFromACheckpointAndRefusesOneWithOtherPreprocessing()
    {
        using var dir = new TempDirectory();
        string plain = FitTests.BarsIdxConfig(dir, "plain.yaml", epochs: 2, augment: "img_shape: [20, 20], reverse: false");
        var (code, output, error) = CliTests.Ongko("train", "--config", plain, "-o", dir.File("teacher"));
        Assert.True(code == 0, error + output);

        (code, output, error) = CliTests.Ongko("train", "--config", plain, "-o", dir.File("student"), "--distill-from", dir.File("teacher/best.safetensors"));
        Assert.True(code == 0, error + output);
        Assert.Contains("Distilling from 1 teacher(s) (weight 0.5, temperature 1)", output);
        Assert.Contains("distill_from", File.ReadAllText(dir.File("student/config.yaml")));

        string reversed = FitTests.BarsIdxConfig(dir, "reversed.yaml", epochs: 2, augment: "img_shape: [20, 20], reverse: true");
        (code, output, error) = CliTests.Ongko("train", "--config", reversed, "-o", dir.File("other"), "--distill-from", dir.File("teacher/best.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("best.safetensors", error);
        Assert.Contains("a teacher sees the run's own images", error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(File.Exists(dir.File("other/config.yaml")) || File.Exists(dir.File("other/dataset.png")), "the refused run wrote files");
    }
}
