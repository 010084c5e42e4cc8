using Ongko.Data;
using Ongko.Models;

namespace Ongko.Training;

/// <summary>
/// Everything a training run is told by its YAML file: the reference's keys (epochs, num_class,
/// data_dir, ..., augment, lr_scheduler) with their meaning, plus Ongko's own (seed, momentum, ...).
/// </summary>
public sealed class TrainConfig
{
    public string SourcePath { get; set; } = "";
    /// <summary>The YAML text as read, kept in checkpoints so a model can be rebuilt from them.</summary>
    public string SourceText { get; set; } = "";

    public int Epochs { get; set; } = 10;
    public int NumClass { get; set; } = 10;
    public string DataDir { get; set; } = "data";
    public string OutputDir { get; set; } = "output";
    public int TrainBatch { get; set; } = 128;
    public int ValidBatch { get; set; } = 256;
    public float LearningRate { get; set; } = 0.01f;
    public bool Debug { get; set; }
    public List<LayerSpec> Model { get; set; } = [];
    public string? CheckpointPath { get; set; }
    public bool Resume { get; set; }
    public string? GtCsv { get; set; }

    // Ongko's own keys.
    public ulong Seed { get; set; } = 42;
    public float Momentum { get; set; }
    public float WeightDecay { get; set; }
    public bool Nesterov { get; set; }
    /// <summary>NumtaDB folders to train and validate on (the reference: training-a, -b, -c).</summary>
    public List<string> TrainFolders { get; set; } = ["training-a", "training-b", "training-c"];
    public float ValidationFraction { get; set; } = 0.2f;

    public AugmentOptions Augment { get; set; } = new();
    public SchedulerConfig LrScheduler { get; set; } = new();

    /// <summary>Keys the reference had that Ongko accepts but does not use (wandb, notebook, ...).</summary>
    public List<string> IgnoredKeys { get; set; } = [];

    /// <summary>Input channels: the first Conv2D's in_channels, else the augment channel setting.</summary>
    public int InputChannels =>
        Model.Count > 0 && Model[0].Kind == "Conv2D" && int.TryParse(Model[0].Arguments[0], out int c) ? c : Augment.Channels;

    /// <summary>One sample's shape [C, H, W] as the model sees it.</summary>
    public int[] SampleShape => [InputChannels, Augment.Height, Augment.Width];
}

/// <summary>The reference's <c>lr_scheduler:</c> section: ReduceLROnPlateau on validation macro-F1.</summary>
public sealed class SchedulerConfig
{
    public float Factor { get; set; } = 0.1f;
    public int Patience { get; set; } = 10;
    public float Threshold { get; set; } = 1e-4f;
    public float MinLearningRate { get; set; }
}
