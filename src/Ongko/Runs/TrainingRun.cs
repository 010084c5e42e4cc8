using Ongko.Data;
using Ongko.Models;
using Ongko.Reports;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Runs;

/// <summary>How a configured training run ended.</summary>
public sealed record TrainingOutcome(bool Interrupted, IReadOnlyList<EpochResult> History, string OutputDir, int SkippedImages);

/// <summary>
/// A training run as a config describes it (what <c>ongko train</c> does): reads the config's data sources
/// (<c>sources:</c>, or NumtaDB under <c>data_dir</c>), splits them, builds the model, and calls
/// <see cref="Trainer.Fit"/> with the standard observers: the plateau rule (unless <c>lr_schedule</c> replaces it),
/// best/last checkpoints, logs.csv, TensorBoard scalars, report.html, plus the caller's (progress). Resumes from a checkpoint.
/// </summary>
public sealed class TrainingRun(TrainConfig config, ITrainingObserver? observer = null)
{
    public const string BestCheckpointName = RunFiles.BestCheckpointName, LastCheckpointName = RunFiles.LastCheckpointName, LogName = RunFiles.LogName;

    public Sequential? Model { get; private set; }
    public DataLoader? TrainLoader { get; private set; }
    public DataLoader? ValidLoader { get; private set; }
    /// <summary>The <c>distill_from</c> teachers, loaded by <see cref="Prepare"/>; null without them.</summary>
    public Distillation? Distillation { get; private set; }

    /// <summary>The sources this run reads: the config's <c>sources:</c>, else NumtaDB's folders under <c>data_dir</c>.</summary>
    public static IReadOnlyList<DataSource> SourcesOf(TrainConfig config) => config.Sources.Count > 0 ? config.Sources
        : [new DataSource { Type = SourceType.NumtaDb, Path = config.DataDir ?? throw new DataException(NumtaDbReader.WhereToGetIt), Folders = config.TrainFolders }];

    /// <summary>The run's training and validation samples, split as training splits them (also for evaluate and photoset).</summary>
    public static (List<Sample> Train, List<Sample> Validation) ReadSplit(TrainConfig config) =>
        DataSource.ReadAndSplit(SourcesOf(config), config.NumClass, config.ValidationFraction, config.SplitSeed ?? config.Seed, config.Sources.Count > 0 ? config.DataDir : null);

    /// <summary>Where the data comes from, in words (for the first line of a run).</summary>
    public static string DescribeData(TrainConfig config) => config.Sources.Count == 0 ? config.DataDir ?? "(no data_dir)"
        : string.Join("; ", config.Sources.Select(s => $"{DataSource.TypeName(s.Type)} {s.Path ?? s.Images}"));

    /// <summary>Loads the data and builds the model (Run calls it; the CLI calls it early to draw a preview).</summary>
    public void Prepare()
    {
        if (TrainLoader is not null) return;
        var (train, valid) = ReadSplit(config);
        if (config.Exclude.Count > 0)
        {
            var report = ExcludeList.Apply(config.Exclude.Select(ExcludeList.Read).ToList(), train, valid);
            foreach (string line in report.Lines()) observer?.Message(line);
        }
        if (config.Debug) { train = DataSplit.Subset(train, Trainer.DebugPerStratum); valid = DataSplit.Subset(valid, Trainer.DebugPerStratum / 4); }
        if (train.Count == 0)
            throw new DataException(valid.Count > 0 ? $"all {valid.Count} images of {DescribeData(config)} went to validation (valid_fraction {config.ValidationFraction}); lower valid_fraction"
                                                    : $"no training images found in {DescribeData(config)}");
        TrainLoader = new DataLoader(train, config.Augment, config.TrainBatch, shuffle: true, train: true, config.Seed, config.NumClass);
        ValidLoader = new DataLoader(valid, config.Augment, config.ValidBatch, shuffle: false, train: false, config.Seed, config.NumClass);
        var model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(config.Seed));
        // Labels run 0..num_class-1: training needs one score per class.
        if (model.OutputShape is not [int outputs] || outputs != config.NumClass)
            throw new ConfigException($"num_class is {config.NumClass} but the model puts out {Tensor.ShapeString(model.OutputShape)} per image; " +
                                      $"end the model with [Linear, [{config.NumClass}]] (and Softmax) or set num_class", config.SourcePath, null);
        if (Trainer.FreezeProblem(model, config.FreezeLayers) is { } frozen) throw new ConfigException(frozen, config.SourcePath, null);
        if (config.DistillFrom.Count > 0) Distillation = LoadTeachers();   // before anything is written: a bad teacher stops the run here
        Model = model;
    }

    /// <param name="resumeFrom">a checkpoint to continue from, or null</param>
    /// <param name="cancel">stops after the current step (last.safetensors then holds the place)</param>
    /// <param name="learningRate">with <paramref name="resumeFrom"/>: replaces the checkpoint's learning rate (--resume ... --lr X)</param>
    public TrainingOutcome Run(string? resumeFrom = null, CancellationToken cancel = default, float? learningRate = null)
    {
        string output = config.OutputDir;
        RunFiles.EnsureWritable(output);
        Prepare();
        var model = Model!;
        var optimizer = Optimizer.Create(config, model.Parameters);
        string yaml = ConfigFile.ToYaml(config);
        AtomicFile.WriteAllText(Path.Combine(output, "config.yaml"), yaml);
        using var board = new TensorBoardObserver(Path.Combine(output, "tensorboard"));
        var observers = new List<ITrainingObserver>();
        if (config.Schedule is null) observers.Add(new PlateauObserver(config.LrScheduler));
        observers.AddRange([new CheckpointObserver(output, yaml), new LogCsvObserver(Path.Combine(output, LogName)), board,
                            new ReportObserver(Path.Combine(output, ReportObserver.FileName), TrainLoader!, ValidLoader, yaml,
                                               $"Ongko training run: {Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(output)))}")]);
        if (observer is not null) observers.Add(observer);
        observers.Add(new EpochEndCollection());   // last: after every other observer's epoch-end work

        TrainingState? state = null;
        if (config.InitFrom is { } initFrom)
        {
            if (resumeFrom is not null) observer?.Message($"note: init_from {initFrom} is not used: the run resumes from {resumeFrom}");
            else
            {
                var report = Checkpoint.InitializeFrom(initFrom, model, out var recorded);
                observer?.Message($"Initialising from {initFrom}:");
                foreach (string line in report.Lines()) observer?.Message("  " + line);
                if (recorded is not null && Preprocessing(recorded) != Preprocessing(config.Augment))
                    observer?.Message($"note: {initFrom} was trained on images prepared with {Preprocessing(recorded)}; this run uses " +
                                      $"{Preprocessing(config.Augment)} (fine-tuning usually wants the same preprocessing)");
            }
        }
        if (resumeFrom is not null)
        {
            state = TrainingCheckpoint.Restore(resumeFrom, model, optimizer);
            if (state.CompletedEpochs >= config.Epochs)
                throw new OngkoInputException($"the checkpoint has already completed {state.CompletedEpochs} epoch(s) and epochs is {config.Epochs}: " +
                                              "nothing to train (raise --epochs to continue)", resumeFrom);
            if (state.StepsIntoEpoch >= TrainLoader!.BatchCount)
                throw new OngkoInputException($"the checkpoint stopped after step {state.StepsIntoEpoch} of epoch {state.CompletedEpochs + 1}, " +
                                              $"but an epoch now has {TrainLoader.BatchCount} steps (other data or train_batch?)", resumeFrom);
            observer?.Message($"Resuming from {resumeFrom}: {state.CompletedEpochs} epoch(s) done" +
                              (state.StepsIntoEpoch > 0 ? $" and {state.StepsIntoEpoch} step(s) into epoch {state.CompletedEpochs + 1}" : "") +
                              $", learning rate {state.LearningRate:G4}");
            if (learningRate is { } lr)
            {
                observer?.Message($"--lr {lr:G4} replaces the checkpoint's learning rate {state.LearningRate:G4}" +
                                  (config.Schedule is not null ? $" (the {config.Schedule.Name} schedule is rebuilt around it)" : ""));
                state = state with { LearningRate = lr };
            }
        }
        var result = Trainer.Fit(model, TrainLoader!, ValidLoader, config, observers, optimizer, state, cancel, Distillation);
        if (result.Interrupted) observer?.Message($"Continue with: --resume {Path.Combine(output, LastCheckpointName)}");
        return new TrainingOutcome(result.Interrupted, result.History, output, result.SkippedImages);
    }

    /// <summary>
    /// The <c>distill_from</c> checkpoints as teachers. Each must take this run's input, put out num_class scores and have
    /// been trained on images prepared the same way: a teacher looks at the run's own (augmented) batches.
    /// </summary>
    Distillation LoadTeachers()
    {
        var teachers = new List<Sequential>();
        foreach (string path in config.DistillFrom)
        {
            var (teacher, recorded, _) = Checkpoint.LoadModelAndPreprocessing(path);
            if (!teacher.InputShape.SequenceEqual(config.SampleShape))
                throw new OngkoInputException($"distill_from: this teacher takes {Tensor.ShapeString(teacher.InputShape)} images, the run makes {Tensor.ShapeString(config.SampleShape)}", path);
            if (teacher.OutputShape is not [int classes] || classes != config.NumClass)
                throw new OngkoInputException($"distill_from: this teacher puts out {Tensor.ShapeString(teacher.OutputShape)} scores per image, num_class is {config.NumClass}", path);
            if (Preprocessing(recorded) != Preprocessing(config.Augment))
                throw new OngkoInputException($"distill_from: this teacher was trained on images prepared with {Preprocessing(recorded)}; this run uses " +
                                              $"{Preprocessing(config.Augment)} (a teacher sees the run's own images, so they must match)", path);
            teachers.Add(teacher);
        }
        observer?.Message($"Distilling from {teachers.Count} teacher(s) (weight {config.DistillWeight:G3}, temperature {config.DistillTemperature:G3}): " +
                          string.Join(", ", config.DistillFrom));
        return new Distillation(teachers, config.DistillWeight, config.DistillTemperature);
    }

    /// <summary>The preprocessing settings that decide what a model sees, in words (to compare an init_from checkpoint's with the run's).</summary>
    static string Preprocessing(AugmentOptions o) =>
        $"normalize: {o.Normalize.ToString().ToLowerInvariant()}, reverse: {o.Reverse.ToString().ToLowerInvariant()}, use_bbox: {(o.UseBoundingBox ? "true" : "false")}, " +
        $"{o.Height}x{o.Width}";

    /// <summary>Fails early, naming the folder, when the output folder cannot be written.</summary>
    public static void EnsureWritable(string folder) => RunFiles.EnsureWritable(folder);
}
