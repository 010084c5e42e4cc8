using System.Diagnostics;
using Ongko.Data;
using Ongko.Models;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Training;

/// <summary>
/// Training diverged: a loss or a weight became NaN or infinite. Nothing of that state was saved (checkpoints keep
/// the last finite weights); the caller reports it like bad input (the settings cannot train this model).
/// </summary>
public sealed class TrainingDivergedException(string message) : OngkoInputException(message);

/// <summary>How <see cref="Trainer.Fit"/> ended: the epochs' numbers and the state a checkpoint would hold.</summary>
public sealed record FitResult(bool Interrupted, IReadOnlyList<EpochResult> History, TrainingState State, int SkippedImages);

/// <summary>
/// Trains a built model on any <see cref="IBatchSource"/>: per-epoch train/validation loss, accuracy and macro-F1,
/// a per-step schedule (onecycle, cosine) when the options name one, and resume (also from the middle of an epoch).
/// Everything else is an observer the caller attaches: checkpoints, logs.csv, TensorBoard, the plateau rule
/// (<see cref="PlateauObserver"/>), progress. Validation loss is plain cross-entropy, without label smoothing.
/// No allocation per step: the loop, the loss and the layers reuse their buffers.
/// </summary>
public static class Trainer
{
    /// <summary>Debug runs keep this many images per (source, digit) stratum for training, a quarter of that for validation.</summary>
    public const int DebugPerStratum = 40;

    /// <param name="model">A built model (<see cref="Sequential.Build"/>); trained in place.</param>
    /// <param name="train">Training batches (shuffled and augmented by the source as it chooses).</param>
    /// <param name="validation">Validation batches, or null (then "best" follows training macro-F1).</param>
    /// <param name="options">Epochs, num_class, lr, optimizer keys, label_smoothing and lr_schedule are used; model and data keys are not.</param>
    /// <param name="observers">Called in order at every event.</param>
    /// <param name="optimizer">The optimizer (default: the one <paramref name="options"/> names, over the model's parameters).</param>
    /// <param name="resume">Where a previous run stopped (weights and optimizer state already loaded by the caller).</param>
    /// <param name="cancel">Stops after the current step; the result's State then says where.</param>
    /// <param name="distillation">Teachers whose probabilities on each training batch join its targets, or null.</param>
    public static FitResult Fit(Sequential model, IBatchSource train, IBatchSource? validation, TrainConfig options,
                                IReadOnlyList<ITrainingObserver>? observers = null, Optimizer? optimizer = null,
                                TrainingState? resume = null, CancellationToken cancel = default, Distillation? distillation = null)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built (Sequential.Build) before Fit");
        if (train.ClassCount != options.NumClass)
            throw new ArgumentException($"the training source has {train.ClassCount} classes, the options say num_class {options.NumClass}");
        if (FreezeProblem(model, options.FreezeLayers) is { } problem) throw new ArgumentException(problem);
        if (distillation is not null && (distillation.ClassCount != options.NumClass || !distillation.InputShape.SequenceEqual(model.InputShape)))
            throw new ArgumentException($"the distillation teachers take {Tensor.ShapeString(distillation.InputShape)} and put out {distillation.ClassCount} classes; " +
                                        $"the model takes {Tensor.ShapeString(model.InputShape)} and num_class is {options.NumClass}");
        optimizer ??= Optimizer.Create(options, model.Parameters);
        try { return new Loop(model, train, validation, options, observers ?? [], optimizer, resume, distillation).Run(cancel); }
        finally
        {
            if (options.FreezeLayers > 0) { model.Freeze(0); optimizer.Freeze([]); }   // freezing lasts for this call only
        }
    }

    /// <summary>Why freezing the first <paramref name="layers"/> layers of <paramref name="model"/> cannot train, or null.</summary>
    public static string? FreezeProblem(Sequential model, int layers) =>
        layers < 0 ? $"freeze must be >= 0, got {layers}"
        : layers >= model.Layers.Count ? $"freeze {layers} covers all {model.Layers.Count} layers of the model; nothing would train"
        : layers > 0 && !model.Layers.Skip(layers).Any(layer => layer.Parameters.Count > 0)
            ? $"freeze {layers} leaves no layer with parameters to train (layers {layers}-{model.Layers.Count - 1}: " +
              $"{string.Join(", ", model.Layers.Skip(layers).Select(l => l.Kind))})"
        : null;

    /// <summary>True when every parameter and buffer (BatchNorm's running statistics) of the model is finite.</summary>
    public static bool WeightsAreFinite(Sequential model) =>
        model.Parameters.All(p => TensorPrimitives.IsFiniteAll<float>(p.Value.Span)) && model.NamedBuffers.All(b => TensorPrimitives.IsFiniteAll<float>(b.Value.Span));

    /// <summary>One Fit call's moving parts; each method is one phase of an epoch.</summary>
    sealed class Loop
    {
        readonly Sequential model;
        readonly IBatchSource train;
        readonly IBatchSource? validation;
        readonly TrainConfig options;
        readonly ITrainingObserver[] observers;
        readonly Optimizer optimizer;
        readonly IStepSchedule? schedule;
        readonly CrossEntropyLoss loss;
        readonly Distillation? distillation;
        readonly int stepsPerEpoch, classCount;
        readonly List<EpochResult> history;
        TrainingState state;

        // The running sums of the epoch in progress.
        ConfusionMatrix matrix = null!;
        double lossSum;
        long seen, imagesThisRun;

        public Loop(Sequential model, IBatchSource train, IBatchSource? validation, TrainConfig options,
                    IReadOnlyList<ITrainingObserver> observers, Optimizer optimizer, TrainingState? resume, Distillation? distillation)
        {
            (this.model, this.train, this.validation, this.options, this.optimizer) = (model, train, validation, options, optimizer);
            this.distillation = distillation;
            this.observers = observers.ToArray();
            classCount = options.NumClass;
            stepsPerEpoch = train.BatchCount;
            schedule = options.Schedule?.Create(options.LearningRate, (long)options.Epochs * stepsPerEpoch, stepsPerEpoch);
            loss = new CrossEntropyLoss { LabelSmoothing = options.LabelSmoothing };
            state = (resume ?? new TrainingState { LearningRate = options.LearningRate }) with
            {
                ClassCount = classCount,
                Preprocessing = (train as DataLoader)?.Pipeline.Options.Clone() ?? resume?.Preprocessing ?? new AugmentOptions(),
            };
            history = [.. state.History];
            if (resume is not null)
            {
                optimizer.LearningRate = resume.LearningRate;
                foreach (var stateful in this.observers.OfType<IStatefulObserver>())
                    if (resume.ObserverStates.TryGetValue(stateful.StateKey, out var saved) && saved.Length > 0) stateful.LoadState(saved);
            }
        }

        public FitResult Run(CancellationToken cancel)
        {
            Notify(o => o.RunStarted(new TrainingRunInfo(train.Count, validation?.Count ?? 0, state.CompletedEpochs + 1, options.Epochs, model.ParameterCount)));
            for (int epoch = state.CompletedEpochs + 1; epoch <= options.Epochs; epoch++)
            {
                float epochLearningRate = schedule?.LearningRate((long)(epoch - 1) * stepsPerEpoch) ?? optimizer.LearningRate;
                ApplyFreezing(epoch);
                var clock = Stopwatch.StartNew();
                if (!TrainEpoch(epoch, clock, cancel))
                {
                    Interrupt(epoch);
                    return new FitResult(true, history, state, Skipped);
                }
                double trainSeconds = clock.Elapsed.TotalSeconds;
                var (result, selectionF1) = Validate(epoch, epochLearningRate, clock, trainSeconds);
                CheckFinite(result);
                FinishEpoch(result, selectionF1);
            }
            return new FitResult(false, history, state, Skipped);
        }

        /// <summary>
        /// Fine-tuning: the first <c>freeze</c> layers are frozen in epochs 1..freeze_epochs (all epochs when not given),
        /// then every layer trains. A function of the epoch alone, so a resumed run freezes as the first run did.
        /// </summary>
        void ApplyFreezing(int epoch)
        {
            if (options.FreezeLayers <= 0) return;
            int layers = options.FreezeEpochs is not { } until || epoch <= until ? options.FreezeLayers : 0;
            if (layers == model.FrozenLayers) return;
            model.Freeze(layers);
            var frozen = model.Layers.Take(layers).SelectMany(layer => layer.Parameters).ToList();
            optimizer.Freeze(frozen);
            string through = options.FreezeEpochs is { } last ? (last == epoch ? $"epoch {epoch}" : $"epochs {epoch}-{last}") : "the whole run";
            Notify(o => o.Message(layers > 0
                ? $"Frozen for {through}: layers 0-{layers - 1} ({string.Join(", ", model.Layers.Take(layers).Select(l => l.Kind))}; " +
                  $"{frozen.Sum(p => (long)p.Value.Length):N0} parameters not updated, BatchNorm keeps its running statistics, Dropout off)"
                : $"Epoch {epoch}: all layers train from here on"));
        }

        int Skipped => train.SkippedCount + (validation?.SkippedCount ?? 0);

        /// <summary>The training steps of one epoch; false when cancelled before its end.</summary>
        bool TrainEpoch(int epoch, Stopwatch clock, CancellationToken cancel)
        {
            bool resumingThisEpoch = epoch == state.CompletedEpochs + 1 && state.StepsIntoEpoch > 0;
            int skip = resumingThisEpoch ? state.StepsIntoEpoch : 0;
            matrix = new ConfusionMatrix(classCount);
            (lossSum, seen, imagesThisRun) = (0, 0, 0);
            if (resumingThisEpoch && state.PartialMatrix.Length > 0)
            {
                matrix.AddFlat(state.PartialMatrix);
                (lossSum, seen) = (state.PartialLossSum, state.PartialSeen);
            }
            int step = 0;
            foreach (var batch in train.Epoch(epoch))
            {
                if (step < skip) { step++; continue; }
                Step(epoch, step, batch);
                step++;
                foreach (var observer in observers)
                    observer.StepCompleted(epoch, step, stepsPerEpoch, lossSum / seen, matrix.Accuracy,
                                           imagesThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed);
                if (cancel.IsCancellationRequested && step < stepsPerEpoch)
                {
                    state = state with
                    {
                        CompletedEpochs = epoch - 1, StepsIntoEpoch = step, LearningRate = optimizer.LearningRate, ObserverStates = ObserverStates(),
                        History = [.. history], PartialLossSum = lossSum, PartialSeen = seen, PartialMatrix = matrix.ToFlatArray(),
                    };
                    return false;
                }
            }
            return true;
        }

        /// <summary>One optimisation step and its running sums.</summary>
        void Step(int epoch, int step, Batch batch)
        {
            if (schedule is not null)
            {
                long globalStep = (long)(epoch - 1) * stepsPerEpoch + step;
                optimizer.LearningRate = schedule.LearningRate(globalStep);
                if (schedule.Momentum(globalStep) is { } momentum) optimizer.Momentum = momentum;
            }
            loss.SampleWeights = batch.Weights;
            var soft = distillation?.Targets(batch.Images, batch.Labels, batch.SoftTargets) ?? batch.SoftTargets;
            float batchLoss = soft is { } targets
                ? TrainingStep.Run(model, loss, optimizer, batch.Images, targets)
                : TrainingStep.Run(model, loss, optimizer, batch.Images, batch.Labels);
            if (!float.IsFinite(batchLoss)) throw Diverged($"the training loss became {batchLoss} at epoch {epoch}, step {step + 1}");
            lossSum += batchLoss * (double)batch.Count;
            seen += batch.Count;
            imagesThisRun += batch.Count;
            var probabilities = loss.Probabilities.Span;
            for (int n = 0; n < batch.Count; n++)
                matrix.Add(batch.Labels[n], TensorPrimitives.IndexOfMax(probabilities.Slice(n * classCount, classCount)));
        }

        /// <summary>Validation after an epoch's training: the epoch's numbers and the macro-F1 that picks the best epoch.</summary>
        (EpochResult Result, double SelectionF1) Validate(int epoch, float epochLearningRate, Stopwatch clock, double trainSeconds)
        {
            var watchers = observers.OfType<IValidationObserver>().ToArray();
            Action<Batch, ReadOnlySpan<float>>? onBatch = watchers.Length == 0 ? null
                : (batch, probabilities) => { foreach (var watcher in watchers) watcher.ValidationBatch(epoch, batch, probabilities); };
            var (validLoss, validMatrix) = validation is null ? (double.NaN, new ConfusionMatrix(classCount))
                : Evaluation.Run(model, validation, classCount, onBatch, CancellationToken.None);
            double validF1 = validation is { Count: > 0 } ? validMatrix.MacroF1 : matrix.MacroF1;
            bool isBest = validF1 > state.BestValidMacroF1;
            return (new EpochResult(epoch, epochLearningRate, lossSum / Math.Max(seen, 1), matrix.Accuracy, matrix.MacroF1,
                                    validLoss, validMatrix.Accuracy, validMatrix.MacroF1, clock.Elapsed.TotalSeconds,
                                    imagesThisRun / Math.Max(trainSeconds, 1e-9), isBest) { SelectionMacroF1 = validF1 }, validF1);
        }

        /// <summary>Lets observers adjust the learning rate (plateau rule), fixes the state, then reports the epoch.</summary>
        void FinishEpoch(EpochResult result, double selectionF1)
        {
            history.Add(result);
            foreach (var observer in observers)
                if (observer.EpochEnding(result, optimizer) is { } note) Notify(o => o.Message(note));
            state = state with
            {
                CompletedEpochs = result.Epoch, StepsIntoEpoch = 0, LearningRate = optimizer.LearningRate, ObserverStates = ObserverStates(),
                BestValidMacroF1 = Math.Max(state.BestValidMacroF1, selectionF1), History = [.. history],
                PartialLossSum = 0, PartialSeen = 0, PartialMatrix = [],
            };
            var snapshot = new TrainingSnapshot(model, optimizer, state, result.IsBest, Interrupted: false);
            Notify(o => o.StateReached(snapshot));
            Notify(o => o.EpochCompleted(result, history));
        }

        /// <summary>Rule for an exploding loss: an epoch's training loss this many times a uniform guess's (ln classes) is warned about.</summary>
        const double ExplodingFactor = 100;
        bool warnedExploding;

        /// <summary>
        /// Before an epoch is recorded, counted as best or saved: its losses and every weight must be finite, else
        /// training stops (<see cref="TrainingDivergedException"/>). A training loss far above a uniform guess's is warned about.
        /// </summary>
        void CheckFinite(EpochResult result)
        {
            if (!double.IsFinite(result.TrainLoss)) throw Diverged($"the training loss of epoch {result.Epoch} is {result.TrainLoss}");
            if (validation is { Count: > 0 } && !double.IsFinite(result.ValidLoss))
                throw Diverged($"the validation loss of epoch {result.Epoch} is {result.ValidLoss}");
            if (!WeightsAreFinite(model)) throw Diverged($"weights became NaN or infinite in epoch {result.Epoch}");
            double uniform = Math.Log(classCount);
            if (result.TrainLoss > ExplodingFactor * uniform && !warnedExploding)
            {
                warnedExploding = true;
                Notify(o => o.Message($"warning: the training loss {result.TrainLoss:G4} of epoch {result.Epoch} is over {ExplodingFactor:F0} times " +
                                      $"a uniform guess's ({uniform:F2}): the learning rate {optimizer.LearningRate:G4} is probably too high"));
            }
        }

        TrainingDivergedException Diverged(string what) => new(
            $"training diverged: {what} (learning rate {optimizer.LearningRate:G4}); stopped without saving this state" +
            (state.CompletedEpochs > 0 ? $", the checkpoints keep epoch {state.CompletedEpochs}" : "") + "; try a lower learning rate");

        void Interrupt(int epoch)
        {
            if (!WeightsAreFinite(model)) throw Diverged($"weights became NaN or infinite in epoch {epoch}");
            var snapshot = new TrainingSnapshot(model, optimizer, state, IsBest: false, Interrupted: true);
            Notify(o => o.StateReached(snapshot));
            Notify(o => o.Message($"Interrupted at epoch {epoch}, step {state.StepsIntoEpoch}/{stepsPerEpoch}."));
        }

        Dictionary<string, string> ObserverStates() =>
            observers.OfType<IStatefulObserver>().ToDictionary(o => o.StateKey, o => o.SaveState());

        void Notify(Action<ITrainingObserver> call)
        {
            foreach (var observer in observers) call(observer);
        }
    }
}
