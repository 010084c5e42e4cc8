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
    /// <summary>The NumtaDB-layout folder (<c>data_dir</c>); null until a config or <c>--data-dir</c> sets it.</summary>
    public string? DataDir { get; set; }
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
    /// <summary>Seeds the train/validation split when set; otherwise <see cref="Seed"/> does.</summary>
    public ulong? SplitSeed { get; set; }
    public float Momentum { get; set; }
    public float WeightDecay { get; set; }
    public bool Nesterov { get; set; }
    /// <summary>sgd (the reference), adam or adamw.</summary>
    public string Optimizer { get; set; } = "sgd";
    public float[] Betas { get; set; } = [0.9f, 0.999f];
    public float Epsilon { get; set; } = 1e-8f;
    /// <summary>PyTorch's label_smoothing: targets become (1 − ε)·y + ε/classes.</summary>
    public float LabelSmoothing { get; set; }
    /// <summary>A per-step schedule (onecycle, cosine) replacing lr_scheduler's plateau rule, or null.</summary>
    public StepScheduleConfig? Schedule { get; set; }
    /// <summary>NumtaDB folders to train and validate on (the reference: training-a, -b, -c).</summary>
    public List<string> TrainFolders { get; set; } = ["training-a", "training-b", "training-c"];
    public float ValidationFraction { get; set; } = 0.2f;
    /// <summary>The data sets to train and validate on (<c>sources:</c>); empty means NumtaDB's <see cref="TrainFolders"/> under <see cref="DataDir"/>.</summary>
    public List<DataSource> Sources { get; set; } = [];

    /// <summary>Lists of images left out of training (<c>exclude</c>: audit.csv or one name per line); validation is not filtered.</summary>
    public List<string> Exclude { get; set; } = [];

    /// <summary>Fine-tuning: a checkpoint whose matching tensors initialise the model (<c>init_from</c>), or null.</summary>
    public string? InitFrom { get; set; }
    /// <summary>Fine-tuning: the first declared layers kept frozen (<c>freeze</c>); 0 trains all.</summary>
    public int FreezeLayers { get; set; }
    /// <summary>Fine-tuning: epochs the <see cref="FreezeLayers"/> stay frozen before all layers train; null: the whole run.</summary>
    public int? FreezeEpochs { get; set; }

    /// <summary>Distillation: checkpoints whose averaged probabilities on each training batch join the targets (<c>distill_from</c>).</summary>
    public List<string> DistillFrom { get; set; } = [];
    /// <summary>Distillation: the teachers' share α of each target row (<c>distill_weight</c>).</summary>
    public float DistillWeight { get; set; } = 0.5f;
    /// <summary>Distillation: the temperature T softening the teachers' probabilities (<c>distill_temperature</c>).</summary>
    public float DistillTemperature { get; set; } = 1;

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

/// <summary>The <c>lr_schedule:</c> section: a schedule over optimizer steps.</summary>
public sealed class StepScheduleConfig
{
    /// <summary>onecycle or cosine.</summary>
    public string Name { get; set; } = "onecycle";
    /// <summary>onecycle's peak (default: lr).</summary>
    public float? MaxLearningRate { get; set; }
    public float PctStart { get; set; } = 0.3f;
    public float DivFactor { get; set; } = 25;
    public float FinalDivFactor { get; set; } = 1e4f;
    public bool CycleMomentum { get; set; } = true;
    public float BaseMomentum { get; set; } = 0.85f;
    public float MaxMomentum { get; set; } = 0.95f;
    /// <summary>cosine: epochs of linear warm-up (fractions allowed).</summary>
    public float WarmupEpochs { get; set; }
    public float WarmupStartFactor { get; set; } = 0.01f;
    public float MinLearningRate { get; set; }

    public IStepSchedule Create(float learningRate, long totalSteps, int stepsPerEpoch) => Name switch
    {
        "onecycle" => new OneCycleSchedule(MaxLearningRate ?? learningRate, totalSteps, PctStart, DivFactor, FinalDivFactor, CycleMomentum, BaseMomentum, MaxMomentum),
        "cosine" => new CosineSchedule(learningRate, totalSteps, (long)Math.Round(WarmupEpochs * stepsPerEpoch), WarmupStartFactor, MinLearningRate),
        _ => throw new ArgumentException($"unknown lr_schedule '{Name}' (onecycle, cosine)"),
    };
}
