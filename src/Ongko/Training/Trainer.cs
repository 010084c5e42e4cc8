using System.Diagnostics;
using System.Text;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>How a training run ended.</summary>
public sealed record TrainingOutcome(bool Interrupted, IReadOnlyList<EpochResult> History, string OutputDir, int SkippedImages);

/// <summary>
/// The reference's training loop: stratified split, per-epoch train/validation loss, accuracy and
/// macro-F1, ReduceLROnPlateau on validation macro-F1 (or a per-step one-cycle/cosine schedule),
/// best and last checkpoints, logs.csv, TensorBoard scalars and exact resume (also from the middle
/// of an epoch after Ctrl-C). Validation loss is plain cross-entropy, without label smoothing.
/// </summary>
public sealed class Trainer(TrainConfig config, ITrainingObserver? observer = null)
{
    public const string BestCheckpointName = "best.safetensors", LastCheckpointName = "last.safetensors", LogName = "logs.csv";
    readonly ITrainingObserver observer = observer ?? new SilentObserver();

    /// <summary>Debug runs keep this many images per (source, digit) stratum for training, a quarter of that for validation.</summary>
    public const int DebugPerStratum = 40;

    public Sequential? Model { get; private set; }
    public DataLoader? TrainLoader { get; private set; }
    public DataLoader? ValidLoader { get; private set; }

    /// <summary>Loads the data and builds the model (Run calls it; the CLI calls it early to draw a preview).</summary>
    public void Prepare()
    {
        if (TrainLoader is not null) return;
        var samples = NumtaDbReader.Read(config.DataDir ?? throw new DataException(NumtaDbReader.WhereToGetIt), config.TrainFolders, config.NumClass);
        var (train, valid) = DataSplit.Stratified(samples, config.ValidationFraction, config.Seed);
        if (config.Debug) { train = DataSplit.Subset(train, DebugPerStratum); valid = DataSplit.Subset(valid, DebugPerStratum / 4); }
        if (train.Count == 0) throw new DataException($"{config.DataDir}: no training images found in {string.Join(", ", config.TrainFolders)}");
        TrainLoader = new DataLoader(train, config.Augment, config.TrainBatch, shuffle: true, train: true, config.Seed, config.NumClass);
        ValidLoader = new DataLoader(valid, config.Augment, config.ValidBatch, shuffle: false, train: false, config.Seed, config.NumClass);
        Model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(config.Seed));
    }

    public TrainingOutcome Run(string? resumeFrom = null, CancellationToken cancel = default)
    {
        string output = config.OutputDir;
        EnsureWritable(output);
        Prepare();
        var model = Model!;
        var optimizer = Optimizer.Create(config, model.Parameters);
        int stepsPerEpoch = TrainLoader!.BatchCount;
        var schedule = config.Schedule?.Create(config.LearningRate, (long)config.Epochs * stepsPerEpoch, stepsPerEpoch);
        var scheduler = new ReduceLROnPlateau(config.LrScheduler.Factor, config.LrScheduler.Patience, config.LrScheduler.Threshold, config.LrScheduler.MinLearningRate);
        var state = new TrainingState { LearningRate = config.LearningRate };
        if (resumeFrom is not null)
        {
            var content = Checkpoint.Read(resumeFrom);
            state = TrainingState.FromMetadata(content.Metadata, resumeFrom);
            Checkpoint.LoadWeights(resumeFrom, content, model, optimizer);
            optimizer.LearningRate = state.LearningRate;
            if (state.SchedulerState.Length > 0) scheduler.LoadState(state.SchedulerState);
            observer.Message($"Resuming from {resumeFrom}: {state.CompletedEpochs} epoch(s) done" +
                             (state.StepsIntoEpoch > 0 ? $" and {state.StepsIntoEpoch} step(s) into epoch {state.CompletedEpochs + 1}" : "") +
                             $", learning rate {state.LearningRate:G4}");
        }
        var history = new List<EpochResult>(state.History);
        double best = state.BestValidMacroF1;
        AtomicFile.WriteAllText(Path.Combine(output, "config.yaml"), ConfigFile.ToYaml(config));
        using var board = new TensorBoardWriter(Path.Combine(output, "tensorboard"));
        observer.RunStarted(new TrainingRunInfo(TrainLoader!.Count, ValidLoader!.Count, state.CompletedEpochs + 1, config.Epochs,
                                                model.ParameterCount, output, config.DataDir ?? ""));

        var loss = new CrossEntropyLoss { LabelSmoothing = config.LabelSmoothing };
        for (int epoch = state.CompletedEpochs + 1; epoch <= config.Epochs; epoch++)
        {
            bool resumingThisEpoch = epoch == state.CompletedEpochs + 1 && state.StepsIntoEpoch > 0;
            int skip = resumingThisEpoch ? state.StepsIntoEpoch : 0;
            var matrix = new ConfusionMatrix(config.NumClass);
            double lossSum = 0;
            long seen = 0;
            if (resumingThisEpoch && state.PartialMatrix.Length > 0)
            {
                matrix.AddFlat(state.PartialMatrix);
                (lossSum, seen) = (state.PartialLossSum, state.PartialSeen);
            }
            float epochLearningRate = schedule?.LearningRate((long)(epoch - 1) * stepsPerEpoch) ?? optimizer.LearningRate;
            var clock = Stopwatch.StartNew();
            long imagesThisRun = 0;
            int step = 0, stepCount = TrainLoader.BatchCount;
            foreach (var batch in TrainLoader.Epoch(epoch))
            {
                if (step < skip) { step++; continue; }
                if (schedule is not null)
                {
                    long globalStep = (long)(epoch - 1) * stepsPerEpoch + step;
                    optimizer.LearningRate = schedule.LearningRate(globalStep);
                    if (schedule.Momentum(globalStep) is { } momentum) optimizer.Momentum = momentum;
                }
                float batchLoss = batch.SoftTargets is { } targets
                    ? TrainingStep.Run(model, loss, optimizer, batch.Images, targets)
                    : TrainingStep.Run(model, loss, optimizer, batch.Images, batch.Labels);
                if (!float.IsFinite(batchLoss))
                    throw new InvalidOperationException($"the loss became {batchLoss} at epoch {epoch}, step {step + 1}; try a lower learning rate (lr: {optimizer.LearningRate})");
                lossSum += batchLoss * (double)batch.Count;
                seen += batch.Count;
                imagesThisRun += batch.Count;
                var probabilities = loss.Probabilities.Span;
                for (int n = 0; n < batch.Count; n++)
                    matrix.Add(batch.Labels[n], TensorPrimitives.IndexOfMax(probabilities.Slice(n * config.NumClass, config.NumClass)));
                step++;
                observer.StepCompleted(epoch, step, stepCount, lossSum / seen, matrix.Accuracy,
                                       imagesThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed);
                if (cancel.IsCancellationRequested && step < stepCount)
                {
                    var partial = state with
                    {
                        CompletedEpochs = epoch - 1, StepsIntoEpoch = step, LearningRate = optimizer.LearningRate,
                        SchedulerState = scheduler.SaveState(), BestValidMacroF1 = best, History = history,
                        PartialLossSum = lossSum, PartialSeen = seen, PartialMatrix = matrix.ToFlatArray(),
                    };
                    SaveCheckpoint(Path.Combine(output, LastCheckpointName), model, optimizer, partial);
                    observer.Message($"Interrupted at epoch {epoch}, step {step}/{stepCount}. Continue with: --resume {Path.Combine(output, LastCheckpointName)}");
                    return new TrainingOutcome(true, history, output, TrainLoader.SkippedCount + ValidLoader.SkippedCount);
                }
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            var (validLoss, validMatrix) = Evaluation.Run(model, ValidLoader, config.NumClass, cancel: CancellationToken.None);
            double validF1 = ValidLoader.Count > 0 ? validMatrix.MacroF1 : matrix.MacroF1;
            bool isBest = validF1 > best;
            var result = new EpochResult(epoch, epochLearningRate, lossSum / Math.Max(seen, 1), matrix.Accuracy, matrix.MacroF1,
                                         validLoss, validMatrix.Accuracy, validMatrix.MacroF1, clock.Elapsed.TotalSeconds,
                                         imagesThisRun / Math.Max(trainSeconds, 1e-9), isBest);
            history.Add(result);
            if (schedule is null) optimizer.LearningRate = scheduler.Step(validF1, optimizer.LearningRate);
            if (schedule is null && optimizer.LearningRate < epochLearningRate)
                observer.Message($"Validation macro-F1 has not improved for {config.LrScheduler.Patience + 1} epoch(s): learning rate {epochLearningRate:G4} -> {optimizer.LearningRate:G4}");

            var completed = state with
            {
                CompletedEpochs = epoch, StepsIntoEpoch = 0, LearningRate = optimizer.LearningRate, SchedulerState = scheduler.SaveState(),
                BestValidMacroF1 = Math.Max(best, validF1), History = history, PartialLossSum = 0, PartialSeen = 0, PartialMatrix = [],
                ConfigYaml = ConfigFile.ToYaml(config), Preprocessing = config.Augment, ClassCount = config.NumClass,
            };
            if (isBest)
            {
                best = validF1;
                SaveCheckpoint(Path.Combine(output, BestCheckpointName), model, optimizer, completed);
            }
            SaveCheckpoint(Path.Combine(output, LastCheckpointName), model, optimizer, completed);
            WriteLog(Path.Combine(output, LogName), history);
            WriteScalars(board, result);
            observer.EpochCompleted(result, history);
            state = completed;
        }
        return new TrainingOutcome(false, history, output, TrainLoader.SkippedCount + ValidLoader.SkippedCount);
    }

    void SaveCheckpoint(string path, Sequential model, Optimizer optimizer, TrainingState state)
    {
        var complete = state with { ConfigYaml = ConfigFile.ToYaml(config), Preprocessing = config.Augment, ClassCount = config.NumClass };
        Checkpoint.Save(path, model, complete.ToMetadata(), optimizer);
    }

    static void WriteLog(string path, IReadOnlyList<EpochResult> history)
    {
        var text = new StringBuilder(EpochResult.CsvHeader).Append('\n');
        foreach (var row in history) text.Append(row.ToCsv()).Append('\n');
        AtomicFile.WriteAllText(path, text.ToString());
    }

    static void WriteScalars(TensorBoardWriter board, EpochResult r)
    {
        board.AddScalar("loss/train", (float)r.TrainLoss, r.Epoch);
        board.AddScalar("loss/valid", (float)r.ValidLoss, r.Epoch);
        board.AddScalar("accuracy/train", (float)r.TrainAccuracy, r.Epoch);
        board.AddScalar("accuracy/valid", (float)r.ValidAccuracy, r.Epoch);
        board.AddScalar("macro_f1/train", (float)r.TrainMacroF1, r.Epoch);
        board.AddScalar("macro_f1/valid", (float)r.ValidMacroF1, r.Epoch);
        board.AddScalar("lr", r.LearningRate, r.Epoch);
        board.Flush();
    }

    /// <summary>Fails early, naming the folder, when the output folder cannot be written.</summary>
    public static void EnsureWritable(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".ongko-write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new IOException($"output folder '{folder}' cannot be written: {e.Message}"); }
    }

    sealed class SilentObserver : ITrainingObserver;
}
