using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Prediction;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Tests.Prediction;

/// <summary>Ensembles (averaged probabilities) and test-time augmentation.</summary>
public class EnsembleTests
{
    static Sequential Model(string[] rows, int[] inputShape, ulong seed) =>
        LayerFactory.Create(rows.Select((row, i) => new LayerSpec(row.Split(':')[0], row.Split(':')[1].Split(',', StringSplitOptions.RemoveEmptyEntries), i + 1, 0)), "test")
                    .Build(inputShape, new Rng(seed));

    static Sequential SmallModel(ulong seed, int classes = 10) =>
        Model(["Conv2D:1,4,3,1,1", "ReLU:", "MaxPool2D:2,2", "Flatten:", $"Linear:{classes}", "Softmax:"], [1, 16, 16], seed);

    /// <summary>A model whose logits are <paramref name="bias"/> whatever the input (zero weights): its probabilities are softmax(bias).</summary>
    static Sequential ConstantModel(double[] bias)
    {
        var model = Model(["Flatten:", $"Linear:{bias.Length}"], [1, 4, 4], 1);
        var linear = (Linear)model.Layers[1];
        linear.Weight.Value.Span.Clear();
        for (int c = 0; c < bias.Length; c++) linear.Bias!.Value.Span[c] = (float)bias[c];
        return model;
    }

    static ByteImage[] Images(int count, int size) =>
        Enumerable.Range(0, count).Select(i => ImageDecoder.Decode(SyntheticDigits.EncodePng(SyntheticDigits.Render(i % 10, (ulong)i + 5, size)), 1)).ToArray();

    [Fact]
    public void AnEnsembleOfOneGivesExactlyTheSingleModelsAnswers()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        Checkpoint.Save(path, SmallModel(3));
        var single = DigitClassifier.Load(path);
        var ensemble = EnsembleClassifier.Load([path]);
        var images = Images(12, 20);
        var expected = single.Classify(images);
        var got = ensemble.Classify(images);
        for (int i = 0; i < images.Length; i++)
        {
            Assert.Equal(expected[i].Probabilities, got[i].Probabilities);
            Assert.Equal((expected[i].Label, expected[i].Confidence), (got[i].Label, got[i].Confidence));
            Assert.True(got[i].MembersAgree);
        }
        var files = images.Select((image, i) => { string f = dir.File($"{i}.png"); File.WriteAllBytes(f, SyntheticDigits.EncodePng(SyntheticDigits.Render(i % 10, (ulong)i + 5, 20))); return f; }).ToList();
        files.Add(dir.File("missing.png"));
        var singleFiles = single.ClassifyFiles(files, batchSize: 5);
        var ensembleFiles = ensemble.ClassifyFiles(files, batchSize: 5);
        for (int i = 0; i < images.Length; i++) Assert.Equal(singleFiles.Predictions[i]!.Probabilities, ensembleFiles.Predictions[i]!.Probabilities);
        Assert.Null(ensembleFiles.Predictions[^1]);
        Assert.Single(ensembleFiles.Skipped);
        Assert.Equal(single.Classify(files[0]).Probabilities, ensemble.Classify(files[0]).Probabilities);
    }

    [Fact]
    public void TheEnsembleAveragesItsMembersProbabilitiesAsComputedByHand()
    {
        using var dir = new TempDirectory();
        double[][] biases = [[2, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 3, 0, 0, 0, 0, 0, 0, 1], [Math.Log(6), Math.Log(3), Math.Log(1), 0, 0, 0, 0, 0, 0, 0]];
        var paths = biases.Select((b, m) => { string p = dir.File($"m{m}.safetensors"); Checkpoint.Save(p, ConstantModel(b)); return p; }).ToArray();
        var ensemble = EnsembleClassifier.Load(paths);
        var answer = ensemble.Classify(ImageDecoder.Decode(SyntheticDigits.EncodePng(SyntheticDigits.Render(4, 1, 16)), 1));
        // softmax by hand: member 3 is (6, 3, 1, 1 x7) / 17.
        double[][] softmax = biases.Select(b => { double z = b.Sum(Math.Exp); return b.Select(v => Math.Exp(v) / z).ToArray(); }).ToArray();
        Assert.Equal(6.0 / 17, softmax[2][0], 12);
        for (int c = 0; c < 10; c++)
        {
            double mean = (softmax[0][c] + softmax[1][c] + softmax[2][c]) / 3;
            Assert.Equal(mean, answer.Probabilities[c], 6);
            for (int m = 0; m < 3; m++) Assert.Equal(softmax[m][c], answer.MemberProbabilities[m][c], 6);
        }
        // Member argmaxes: 0, 2, 0 -> they disagree; the average's is class 0 ((e²/z₁ + 1/z₂ + 6/17) / 3).
        Assert.Equal(0, answer.Label);
        Assert.False(answer.MembersAgree);
        Assert.Equal(answer.Probabilities[0], answer.Confidence);
    }

    [Fact]
    public void WithTestTimeAugmentationEachMemberAveragesItsViews()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        Checkpoint.Save(path, SmallModel(4));
        var single = DigitClassifier.Load(path);
        var tta = TestTimeAugmentation.Standard;
        var ensemble = new EnsembleClassifier([single], tta);
        var images = Images(3, 16);
        var got = ensemble.Classify(images);
        var input = single.Prepare(images);
        var view = new Tensor(input.ShapeArray);
        var sum = new double[3 * 10];
        var probabilities = new float[3 * 10];
        foreach (var v in tta.Views)
        {
            TestTimeAugmentation.Apply(v, input.Span, 3, 16, 16, view.Span);
            single.Probabilities(view, probabilities);
            for (int k = 0; k < sum.Length; k++) sum[k] += probabilities[k];
        }
        for (int n = 0; n < 3; n++)
            for (int c = 0; c < 10; c++) Assert.Equal(sum[n * 10 + c] / tta.Views.Count, got[n].Probabilities[c], 5);
        // The views matter: the augmented answer is not the plain one.
        Assert.NotEqual(single.Classify(images[0]).Probabilities, got[0].Probabilities);
    }

    [Fact]
    public void TheStandardViewsAreWhatTheySay()
    {
        var names = TestTimeAugmentation.Standard.Views.Select(v => v.Name).ToArray();
        Assert.Equal(["identity", "right 1", "left 1", "down 1", "up 1", "right 2 down 2", "left 2 up 2", "rotate +8", "rotate -8"], names);
        const int size = 15;
        var input = new float[size * size];
        input[5 * size + 5] = 1;  // one lit pixel at row 5, column 5
        var output = new float[size * size];
        (int Row, int Column) Lit() { int k = Array.IndexOf(output, 1f); return (k / size, k % size); }
        foreach (var (name, row, column) in new[] { ("identity", 5, 5), ("right 1", 5, 6), ("left 1", 5, 4), ("down 1", 6, 5), ("up 1", 4, 5), ("right 2 down 2", 7, 7), ("left 2 up 2", 3, 3) })
        {
            TestTimeAugmentation.Apply(TestTimeAugmentation.Standard.Views.Single(v => v.Name == name), input, 1, size, size, output);
            Assert.Equal((row, column), Lit());
            Assert.Equal(1f, output.Sum());  // an integer shift moves the pixel exactly
        }
        // Border: the edge repeats (a constant background stays constant, whichever its value).
        var bright = Enumerable.Repeat(0.75f, size * size).ToArray();
        TestTimeAugmentation.Apply(new TestTimeView("far", 4, -3, 8), bright, 1, size, size, output);
        Assert.All(output, v => Assert.Equal(0.75f, v, 5));

        // Rotation: a blob right of the centre turns counter-clockwise (up, as seen) by 8 degrees about the centre.
        const int big = 41;
        double centre = (big - 1) / 2.0, radius = 14;
        var blob = new float[big * big];
        for (int y = -1; y <= 1; y++)
            for (int x = -1; x <= 1; x++) blob[(int)(centre + y) * big + (int)(centre + radius + x)] = 1;
        foreach (float degrees in new[] { 8f, -8f })
        {
            var turned = new float[big * big];
            TestTimeAugmentation.Apply(new TestTimeView("r", 0, 0, degrees), blob, 1, big, big, turned);
            double mass = turned.Sum(), cx = 0, cy = 0;
            for (int k = 0; k < turned.Length; k++) { cx += turned[k] * (k % big); cy += turned[k] * (k / big); }
            double theta = degrees * Math.PI / 180;
            Assert.Equal(9, mass, 1);
            Assert.Equal(centre + radius * Math.Cos(theta), cx / mass, 1);
            Assert.Equal(centre - radius * Math.Sin(theta), cy / mass, 1);
        }
        // Several planes: each plane gets the same view.
        var two = new float[2 * size * size];
        two[5 * size + 5] = 1; two[size * size + 9 * size + 2] = 1;
        var twoOut = new float[2 * size * size];
        TestTimeAugmentation.Apply(TestTimeAugmentation.Standard.Views[1], two, 2, size, size, twoOut);
        Assert.Equal(1f, twoOut[5 * size + 6]);
        Assert.Equal(1f, twoOut[size * size + 9 * size + 3]);
    }

    [Fact]
    public void SeveralThreadsGetTheAnswersOneThreadGets()
    {
        using var dir = new TempDirectory();
        var paths = new[] { 5UL, 6UL }.Select(seed => { string p = dir.File($"{seed}.safetensors"); Checkpoint.Save(p, SmallModel(seed)); return p; }).ToArray();
        var ensemble = EnsembleClassifier.Load(paths, TestTimeAugmentation.Standard);
        DigitClassifierTests.AssertThreadsAgree(Images(24, 18), image => ensemble.Classify(image).Probabilities, rounds: 4);
    }

    [Fact]
    public void CheckpointsWithDifferentClassCountsOrAMissingFileAreClearErrors()
    {
        using var dir = new TempDirectory();
        Checkpoint.Save(dir.File("ten.safetensors"), SmallModel(1));
        Checkpoint.Save(dir.File("twelve.safetensors"), SmallModel(1, classes: 12));
        var mixed = Assert.Throws<CheckpointException>(() => EnsembleClassifier.Load([dir.File("ten.safetensors"), dir.File("twelve.safetensors")]));
        Assert.Contains("twelve.safetensors", mixed.Message);
        Assert.Contains("12 classes", mixed.Message);
        Assert.Contains("ten.safetensors has 10", mixed.Message);
        var missing = Assert.ThrowsAny<OngkoInputException>(() => EnsembleClassifier.Load([dir.File("ten.safetensors"), dir.File("gone.safetensors")]));
        Assert.Contains("gone.safetensors", missing.Message);
    }
}
