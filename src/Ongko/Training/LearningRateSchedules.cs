namespace Ongko.Training;

/// <summary>A learning rate (and optionally momentum) that depends only on the global step, so resuming needs no state.</summary>
public interface IStepSchedule
{
    float LearningRate(long step);
    /// <summary>The momentum (SGD) or β1 (Adam) for this step, or null to leave it alone.</summary>
    float? Momentum(long step);
}

/// <summary>
/// PyTorch's OneCycleLR (two phases, cosine annealing): lr rises from maxLr/divFactor to maxLr over the first
/// pctStart of the steps, then falls to maxLr/divFactor/finalDivFactor; momentum moves the opposite way
/// between maxMomentum and baseMomentum. <c>step</c> counts optimizer steps from 0.
/// </summary>
public sealed class OneCycleSchedule(float maxLr, long totalSteps, float pctStart = 0.3f, float divFactor = 25, float finalDivFactor = 1e4f,
                                     bool cycleMomentum = true, float baseMomentum = 0.85f, float maxMomentum = 0.95f) : IStepSchedule
{
    readonly double initialLr = maxLr / divFactor;
    readonly double minLr = maxLr / divFactor / finalDivFactor;
    readonly double warmEnd = pctStart * (double)totalSteps - 1, lastStep = totalSteps - 1;

    public float LearningRate(long step) => (float)Phase(step, initialLr, maxLr, maxLr, minLr);

    public float? Momentum(long step) => cycleMomentum ? (float)Phase(step, maxMomentum, baseMomentum, baseMomentum, maxMomentum) : null;

    double Phase(long step, double rising0, double rising1, double falling0, double falling1) => step <= warmEnd
        ? Cosine(rising0, rising1, step / warmEnd)
        : Cosine(falling0, falling1, (step - warmEnd) / (lastStep - warmEnd));

    /// <summary>From <paramref name="start"/> at fraction 0 to <paramref name="end"/> at 1 along half a cosine.</summary>
    static double Cosine(double start, double end, double fraction) => end + (start - end) / 2 * (Math.Cos(Math.PI * fraction) + 1);
}

/// <summary>
/// Linear warm-up then cosine decay, as PyTorch's SequentialLR(LinearLR(startFactor, warmupSteps),
/// CosineAnnealingLR(totalSteps − warmupSteps, minLr)): lr = base·(f + (1 − f)·t/W) while t &lt; W,
/// then minLr + (base − minLr)·(1 + cos(π·(t − W)/(T − W)))/2.
/// </summary>
public sealed class CosineSchedule(float baseLr, long totalSteps, long warmupSteps = 0, float warmupStartFactor = 0.01f, float minLr = 0) : IStepSchedule
{
    public float LearningRate(long step)
    {
        if (step < warmupSteps) return (float)(baseLr * (warmupStartFactor + (1 - warmupStartFactor) * step / (double)warmupSteps));
        double decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double t = Math.Min(step - warmupSteps, decaySteps);
        return (float)(minLr + (baseLr - minLr) * (1 + Math.Cos(Math.PI * t / decaySteps)) / 2);
    }

    public float? Momentum(long step) => null;
}
