using System.Globalization;

namespace Ongko.Training;

/// <summary>
/// Lowers the learning rate when a metric that should rise (validation macro-F1) stops rising,
/// with PyTorch's ReduceLROnPlateau semantics in mode "max", threshold_mode "rel", no cooldown:
/// an epoch counts as an improvement when metric &gt; best·(1 + threshold); after more than
/// <c>patience</c> epochs in a row without one, lr ← max(lr·factor, minLearningRate) and the count restarts.
/// Example: patience 2 fires on the third non-improving epoch.
/// </summary>
public sealed class ReduceLROnPlateau(float factor, int patience, float threshold = 1e-4f, float minLearningRate = 0)
{
    public float Factor { get; } = factor;
    public int Patience { get; } = patience;
    public float Threshold { get; } = threshold;
    public float MinLearningRate { get; } = minLearningRate;
    public double Best { get; private set; } = double.NegativeInfinity;
    public int BadEpochs { get; private set; }

    /// <summary>Records one epoch's metric; returns the learning rate to use next (lowered or not).</summary>
    public float Step(double metric, float learningRate)
    {
        if (metric > Best * (1 + Threshold) || double.IsNegativeInfinity(Best))
        {
            Best = metric;
            BadEpochs = 0;
            return learningRate;
        }
        BadEpochs++;
        if (BadEpochs <= Patience) return learningRate;
        BadEpochs = 0;
        return Math.Max(learningRate * Factor, MinLearningRate);
    }

    public string SaveState() => string.Create(CultureInfo.InvariantCulture, $"{Best:R};{BadEpochs}");

    public void LoadState(string state)
    {
        var parts = state.Split(';');
        if (parts.Length != 2 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var best)
            || !int.TryParse(parts[1], out var bad))
            throw new FormatException($"scheduler state '{state}' is not 'best;bad_epochs'");
        (Best, BadEpochs) = (best, bad);
    }
}
