using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 6: a config with every key of the reference's published config.yaml works as is.</summary>
public class ReferenceConfigTests
{
    /// <summary>The reference's key set and value forms (gt_csv: false, a wandb block, strings for notebook, name, comment, exp).</summary>
    public const string ReferenceStyle = """
        epochs: 3
        num_class: 10
        data_dir: 'numta'
        output_dir: 'out'
        train_batch: 64
        valid_batch: 32
        lr: 0.02
        debug: false
        model:
          - [Conv2D, [3, 4, 3, 1, 1]]
          - [ReLU, []]
          - [MaxPool2D, [2, 2]]
          - [Flatten, []]
          - [Linear, [10]]
          - [Softmax, []]
        checkpoint_path: "weights.pickle"
        resume: false
        gt_csv: false
        augment:
          img_shape: [12, 12]
          use_bbox: true
          reverse: true
          aug: false
          dilation: true
          opening: false
          mixup: 0.0
          contour_cutout_prob: 0.5
          contour_cutout_number: 5
          cache: true
        lr_scheduler:
          factor: 0.7
          patience: 2
        use_wandb: false
        wandb:
          project: "some-project"
          entity: "someone"
        notebook: ''
        name: 'Run'
        comment: 'a comment'
        exp: 'Experiment'
        """;

    [Fact]
    public void EveryReferenceKeyIsAcceptedAndTheUnusedOnesAreNamed()
    {
        var config = ConfigFile.Parse(ReferenceStyle, "reference.yaml");
        Assert.Equal(["use_wandb", "wandb", "notebook", "name", "comment", "exp"], config.IgnoredKeys);
        Assert.Null(config.GtCsv);                       // gt_csv: false means none, as in the reference's test.py
        Assert.Equal("weights.pickle", config.CheckpointPath);
        Assert.False(config.Resume);
        Assert.Equal((0.7f, 2), (config.LrScheduler.Factor, config.LrScheduler.Patience));
        Assert.Equal(32, config.ValidBatch);
    }

    [Fact]
    public void PredictWithAConfigUsesItsCheckpointGroundTruthOutputFolderAndBatch()
    {
        using var dir = new TempDirectory();
        CheckpointHostileTests.RealCheckpoint(dir.Path);
        Directory.CreateDirectory(dir.File("test"));
        var truth = new List<string> { "filename,digit" };
        for (int i = 0; i < 4; i++)
        {
            File.Copy(Path.Combine(Data.DataTestSupport.FixtureDirectory, "grey8.png"), dir.File($"test/t{i}.png"));
            truth.Add($"t{i}.png,{i}");
        }
        File.WriteAllLines(dir.File("truth.csv"), truth);
        string config = ReferenceStyle.Replace("checkpoint_path: \"weights.pickle\"", $"checkpoint_path: '{dir.File("real.safetensors")}'")
                                      .Replace("gt_csv: false", $"gt_csv: '{dir.File("truth.csv")}'")
                                      .Replace("output_dir: 'out'", $"output_dir: '{dir.File("results")}'");
        File.WriteAllText(dir.File("config.yaml"), config);

        var (code, output, error) = CliTests.Ongko("predict", dir.File("test"), "--config", dir.File("config.yaml"));
        Assert.True(code == 0, error + output);
        Assert.Contains("note: 'use_wandb'", output);
        Assert.Contains("Ground truth: 4 image(s) scored", output);
        Assert.Equal(5, CsvTable.Read(dir.File("results/predictions.csv")).Rows.Count + 1);
        Assert.True(File.Exists(dir.File("results/confusion_matrix.png")));

        // The reference's own checkpoint_path is a numpy pickle: a clear refusal, and nothing left behind.
        File.WriteAllText(dir.File("weights.pickle"), "\x80\x04 not safetensors");
        File.WriteAllText(dir.File("reference.yaml"), ReferenceStyle.Replace("weights.pickle", dir.File("weights.pickle")).Replace("output_dir: 'out'", $"output_dir: '{dir.File("never")}'"));
        (code, _, error) = CliTests.Ongko("predict", dir.File("test"), "--config", dir.File("reference.yaml"));
        Assert.Equal(2, code);
        Assert.Contains("weights.pickle: not a safetensors checkpoint", error);
        Assert.False(Directory.Exists(dir.File("never")));

        File.WriteAllText(dir.File("none.yaml"), ReferenceStyle.Replace("checkpoint_path: \"weights.pickle\"", "checkpoint_path: ~"));
        (code, _, error) = CliTests.Ongko("predict", dir.File("test"), "--config", dir.File("none.yaml"));
        Assert.Equal(2, code);
        Assert.Contains("has no checkpoint_path; give --checkpoint", error);
    }

    [Theory]
    [InlineData("gt_csv: 'false'", "false")]   // quoted: a file really called false
    [InlineData("gt_csv: labels.csv", "labels.csv")]
    [InlineData("gt_csv: ~", null)]
    [InlineData("gt_csv: False", null)]
    public void GroundTruthPathForms(string line, string? expected)
    {
        var config = ConfigFile.Parse(ReferenceStyle.Replace("gt_csv: false", line), "reference.yaml");
        Assert.Equal(expected, config.GtCsv);
    }
}
