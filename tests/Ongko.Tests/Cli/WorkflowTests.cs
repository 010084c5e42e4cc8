namespace Ongko.Tests.Cli;

/// <summary>The synth → train → predict workflow through the real command, as the README's demo runs it.</summary>
public class WorkflowTests
{
    const string Config = """
        epochs: 2
        train_folders: [training-s]
        train_batch: 32
        lr: 0.02
        momentum: 0.9
        model:
          - [Conv2D, [1, 8, 3, 1, 1]]
          - [ReLU, []]
          - [MaxPool2D, [2, 2]]
          - [Flatten, []]
          - [Linear, [10]]
          - [Softmax, []]
        augment:
          img_shape: [20, 20]
          use_bbox: true
          reverse: auto
        wandb: true
        """;

    [Fact]
    public void SynthTrainPredictWithAndWithoutGroundTruth()
    {
        using var dir = new TempDirectory();
        var (code, output, error) = CliTests.Ongko("synth", "--out", dir.File("data"), "--count", "300", "--seed", "1", "--size", "48");
        Assert.True(code == 0, error);
        (code, _, error) = CliTests.Ongko("synth", "--out", dir.File("held"), "--count", "60", "--seed", "2", "--size", "48");
        Assert.True(code == 0, error);
        File.WriteAllText(dir.File("c.yaml"), Config);

        (code, output, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--data-dir", dir.File("data"), "--output-dir", dir.File("run"));
        Assert.True(code == 0, error + output);
        Assert.Contains("'wandb'", output);
        Assert.Contains("epoch   2", output);
        foreach (var file in new[] { "best.safetensors", "last.safetensors", "logs.csv", "metrics.png", "dataset.png", "config.yaml", "report.html" })
            Assert.True(File.Exists(Path.Combine(dir.File("run"), file)), $"{file} missing");

        string held = Path.Combine(dir.File("held"), "training-s");
        (code, output, error) = CliTests.Ongko("predict", held, "--checkpoint", Path.Combine(dir.File("run"), "best.safetensors"), "-o", dir.File("p1"));
        Assert.True(code == 0, error);
        var rows = File.ReadAllLines(Path.Combine(dir.File("p1"), "predictions.csv"));
        Assert.Equal("FileName,Digit,Confidence,P0,P1,P2,P3,P4,P5,P6,P7,P8,P9", rows[0]);
        Assert.Equal(61, rows.Length);
        Assert.DoesNotContain("macro-F1", output);

        // Ground truth with one extra row and one image left out: both are counted.
        var truth = File.ReadAllLines(dir.File("held") + "/training-s.csv").Select(l => string.Join(",", l.Split(',').Take(2))).ToList();
        truth.Add("missing.png,3");
        File.WriteAllLines(dir.File("gt.csv"), truth.Where((_, i) => i != 1));
        (code, output, error) = CliTests.Ongko("predict", held, "--checkpoint", Path.Combine(dir.File("run"), "best.safetensors"), "--gt", dir.File("gt.csv"), "-o", dir.File("p2"));
        Assert.True(code == 0, error);
        Assert.Contains("59 image(s) scored; 1 image(s) have no row in the CSV; 1 CSV row(s) name no image", output);
        Assert.Contains("macro-F1", output);
        Assert.True(File.Exists(Path.Combine(dir.File("p2"), "confusion_matrix.png")));
        Assert.True(File.Exists(Path.Combine(dir.File("p2"), "report.html")));
        Assert.False(File.Exists(Path.Combine(dir.File("p1"), "report.html")));  // no ground truth, no report
    }

    [Fact]
    public void BadInputsExitWithCode2()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("c.yaml"), Config);
        File.WriteAllText(dir.File("not-a-folder"), "");
        var (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--data-dir", dir.File("nowhere"), "--output-dir", dir.File("run"));
        Assert.Equal(2, code);
        Assert.Contains("nowhere", error);
        (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--output-dir", Path.Combine(dir.File("not-a-folder"), "x"));
        Assert.Equal(2, code);
        Assert.Contains("cannot be written", error);
        File.WriteAllText(dir.File("fake.safetensors"), "not a checkpoint");
        Directory.CreateDirectory(dir.File("images"));
        (code, _, error) = CliTests.Ongko("predict", dir.File("images"), "--checkpoint", dir.File("fake.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("fake.safetensors", error);
        (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--epochs", "0");
        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", error);
    }
}

/// <summary>How real the synthetic digits are: a model trained only on them, scored on real CMATERdb.</summary>
public class SyntheticRealismTests
{
    [Ongko.Tests.Data.RealDataFact("cmaterdb")]
    public void ModelTrainedOnSyntheticDigitsReadsRealCmaterdb()
    {
        using var dir = new TempDirectory();
        string cmater = Ongko.Tests.Data.DataTestSupport.SharedData("cmaterdb")!;
        var (code, output, error) = CliTests.Ongko("demo", "--dir", dir.Path, "--count", "3000", "--epochs", "4");
        Assert.True(code == 0, error + output);
        (code, output, error) = CliTests.Ongko("predict", Path.Combine(cmater, "training"), "--checkpoint", Path.Combine(dir.Path, "run", "best.safetensors"),
                                               "--gt", Path.Combine(cmater, "training.csv"), "-o", dir.File("cmater"));
        Assert.True(code == 0, error);
        var line = output.Split('\n').Single(l => l.StartsWith("Accuracy"));
        double macroF1 = double.Parse(line[(line.IndexOf("macro-F1") + 8)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(macroF1 >= 0.5, $"synthetic-only model reaches macro-F1 {macroF1} on real CMATERdb (issue target 0.5)\n{output}");
    }
}
