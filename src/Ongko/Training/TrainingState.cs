using Ongko.Data;

namespace Ongko.Training;

/// <summary>
/// What a checkpoint's __metadata__ holds besides the weights: where training stands (completed epochs,
/// steps into the next one, learning rate, scheduler, best score, history) and how to rebuild the
/// inputs (the resolved config and the preprocessing options). There is no generator state to save:
/// the loader derives every shuffle and augmentation from (seed, epoch, sample index).
/// </summary>
public sealed record TrainingState
{
    public int CompletedEpochs { get; init; }
    /// <summary>Steps already taken in epoch CompletedEpochs + 1 (non-zero only after Ctrl-C).</summary>
    public int StepsIntoEpoch { get; init; }
    public float LearningRate { get; init; }
    /// <summary>The saved state of each <see cref="IStatefulObserver"/> by its key ("scheduler": the plateau rule).</summary>
    public IReadOnlyDictionary<string, string> ObserverStates { get; init; } = new Dictionary<string, string>();
    public double BestValidMacroF1 { get; init; } = double.NegativeInfinity;
    public IReadOnlyList<EpochResult> History { get; init; } = [];
    public string ConfigYaml { get; init; } = "";
    public AugmentOptions Preprocessing { get; init; } = new();
    public int ClassCount { get; init; } = 10;
    /// <summary>Running sums of an interrupted epoch, so its train metrics come out whole after resume.</summary>
    public double PartialLossSum { get; init; }
    public long PartialSeen { get; init; }
    public long[] PartialMatrix { get; init; } = [];
}
