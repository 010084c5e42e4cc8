using Ongko.Serialization;

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
