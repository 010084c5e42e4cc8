using Ongko.Tensors;

namespace Ongko.Data;

/// <summary>Train/validation split and subsets, identical on every machine for the same seed.</summary>
public static class DataSplit
{
    /// <summary>
    /// Stratified split by (Source, Label): each stratum's samples are sorted by path/name (ordinal),
    /// shuffled with one generator seeded by <paramref name="seed"/> (strata visited in sorted order),
    /// and round(n * validationFraction) of them go to validation. Output keeps the input order.
    /// </summary>
    public static (List<Sample> Train, List<Sample> Validation) Stratified(IReadOnlyList<Sample> samples, double validationFraction = 0.2, ulong seed = 0)
    {
        if (validationFraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(validationFraction));
        var rng = new Rng(seed);
        var validation = new bool[samples.Count];
        foreach (var stratum in Strata(samples))
        {
            var members = stratum.OrderBy(i => samples[i].Path ?? samples[i].Name, StringComparer.Ordinal).ThenBy(i => i).ToArray();
            rng.Shuffle(members.AsSpan());
            int take = (int)Math.Round(members.Length * validationFraction, MidpointRounding.AwayFromZero);
            for (int k = 0; k < take; k++) validation[members[k]] = true;
        }
        var train = new List<Sample>(); var valid = new List<Sample>();
        for (int i = 0; i < samples.Count; i++) (validation[i] ? valid : train).Add(samples[i]);
        return (train, valid);
    }

    /// <summary>The first <paramref name="perStratum"/> samples of each (Source, Label) stratum, in input order (<c>debug: true</c>).</summary>
    public static List<Sample> Subset(IReadOnlyList<Sample> samples, int perStratum)
    {
        var seen = new Dictionary<(string, int), int>();
        var result = new List<Sample>();
        foreach (var sample in samples)
        {
            var key = (sample.Source, sample.Label);
            int n = seen.GetValueOrDefault(key);
            if (n < perStratum) { result.Add(sample); seen[key] = n + 1; }
        }
        return result;
    }

    static IEnumerable<List<int>> Strata(IReadOnlyList<Sample> samples)
    {
        var groups = new Dictionary<(string Source, int Label), List<int>>();
        for (int i = 0; i < samples.Count; i++)
        {
            var key = (samples[i].Source, samples[i].Label);
            if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
            list.Add(i);
        }
        return groups.OrderBy(g => g.Key.Source, StringComparer.Ordinal).ThenBy(g => g.Key.Label).Select(g => g.Value);
    }
}
