namespace Ongko.Training;

/// <summary>
/// The reference's <c>lr_scheduler</c> rule as an observer: <see cref="ReduceLROnPlateau"/> on the epoch's selection
/// macro-F1 (validation, or training when there is no validation set); its state goes into checkpoints as "scheduler".
/// </summary>
public sealed class PlateauObserver(ReduceLROnPlateau rule) : IStatefulObserver
{
    public PlateauObserver(SchedulerConfig config) : this(new ReduceLROnPlateau(config.Factor, config.Patience, config.Threshold, config.MinLearningRate)) { }

    public ReduceLROnPlateau Rule => rule;
    public string StateKey => "scheduler";
    public string SaveState() => rule.SaveState();
    public void LoadState(string state) => rule.LoadState(state);

    public string? EpochEnding(EpochResult result, Optimizer optimizer)
    {
        float before = optimizer.LearningRate;
        optimizer.LearningRate = rule.Step(result.SelectionMacroF1, before);
        return optimizer.LearningRate < before
            ? $"Validation macro-F1 has not improved for {rule.Patience + 1} epoch(s): learning rate {before:G4} -> {optimizer.LearningRate:G4}"
            : null;
    }
}
