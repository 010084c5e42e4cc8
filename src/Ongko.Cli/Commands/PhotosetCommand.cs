using System.CommandLine;
using Ongko.Cli.Photoset;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko photoset --config CFG --out DIR</c>: renders the config's held-out validation digits (its own split) as
/// photo-like pictures of digits on paper, in NumtaDB's layout (DIR/photo/ + DIR/photo.csv).
/// </summary>
public static class PhotosetCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "training config whose validation split is rendered (never its training part)", Required = true };
        var output = new Option<string>("--out") { Description = "folder to write DIR/photo/*.jpg and DIR/photo.csv into (keep it outside the repository)", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "override the config's data_dir" };
        var perSource = new Option<int>("--per-source") { Description = "at most this many digits from each source", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "random seed for the choice and the rendering", DefaultValueFactory = _ => 7UL };
        var command = new Command("photoset", "Render held-out validation digits as photo-like pictures on paper (a validation set for robustness)")
            { config, dataDir, output, perSource, seed };
        command.SetGuardedAction(parse =>
        {
            int cap = parse.GetValue(perSource);
            if (cap < 1) throw new UsageException("--per-source must be at least 1");
            var trainConfig = ConfigFile.Load(parse.GetValue(config)!);
            if (parse.GetValue(dataDir) is { } d) trainConfig.DataDir = d;
            var (_, validation) = Runs.TrainingRun.ReadSplit(trainConfig);
            var chosen = Choose(validation, cap, parse.GetValue(seed));
            var started = System.Diagnostics.Stopwatch.StartNew();
            var result = PhotoSetWriter.Write(chosen, parse.GetValue(output)!, parse.GetValue(seed));
            Console.WriteLine($"wrote {result.Count} photo-like digits from the validation split of {trainConfig.SourcePath} " +
                              $"({string.Join(", ", result.PerSource.Select(p => $"{p.Key}: {p.Value}"))}) in {started.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"  images: {result.ImageFolder}");
            Console.WriteLine($"  labels: {result.CsvPath}");
            return 0;
        });
        return command;
    }

    /// <summary>Up to <paramref name="cap"/> samples per source, a seeded random choice, in the split's order.</summary>
    static List<Sample> Choose(List<Sample> validation, int cap, ulong seed)
    {
        var rng = new Rng(seed);
        var keep = new HashSet<Sample>();
        foreach (var group in validation.GroupBy(s => s.Source).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.ToArray();
            rng.Shuffle(members.AsSpan());
            foreach (var s in members.Take(cap)) keep.Add(s);
        }
        return validation.Where(keep.Contains).ToList();
    }
}
