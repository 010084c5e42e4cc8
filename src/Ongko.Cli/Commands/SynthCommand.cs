using System.CommandLine;
using Ongko.Cli.Synth;

namespace Ongko.Cli.Commands;

/// <summary><c>ongko synth --out DIR [--count N] [--seed S] [--size PX]</c>: synthetic Bengali digits in NumtaDB's layout.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            Description = "Folder to write into: OUT/training-s/*.png and OUT/training-s.csv",
            Required = true,
        };
        var count = new Option<int>("--count")
        {
            Description = "Number of images, balanced over the ten digits",
            DefaultValueFactory = _ => 2000,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Random seed; the same seed gives the same images",
            DefaultValueFactory = _ => 1UL,
        };
        var size = new Option<int>("--size")
        {
            Description = $"Width and height of each image in pixels ({SyntheticDigits.MinimumSize}..{SyntheticDigits.MaximumSize})",
            DefaultValueFactory = _ => SyntheticDigits.DefaultSize,
        };

        var command = new Command("synth", "Draw synthetic Bengali handwritten digits (০-৯) as randomized pen strokes, in NumtaDB's layout");
        command.Options.Add(output);
        command.Options.Add(count);
        command.Options.Add(seed);
        command.Options.Add(size);
        command.SetAction(parseResult =>
        {
            string folder = parseResult.GetValue(output) ?? "";
            int n = parseResult.GetValue(count);
            int px = parseResult.GetValue(size);
            if (string.IsNullOrWhiteSpace(folder)) return Fail("--out needs a folder");
            if (n <= 0) return Fail($"--count must be a positive number of images, got {n}");
            if (px < SyntheticDigits.MinimumSize || px > SyntheticDigits.MaximumSize)
                return Fail($"--size must be between {SyntheticDigits.MinimumSize} and {SyntheticDigits.MaximumSize} pixels, got {px}");
            var started = System.Diagnostics.Stopwatch.StartNew();
            SyntheticWriteResult result;
            try
            {
                result = SyntheticDigitsWriter.Write(folder, n, parseResult.GetValue(seed), px);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException or NotSupportedException or ArgumentException)
            {
                return Fail($"cannot write synthetic digits to '{folder}': {e.Message}");
            }
            Console.WriteLine($"wrote {result.Count} synthetic digits ({result.Size}x{result.Size} greyscale PNG, {string.Join(" ", result.PerDigit.Select((c, d) => $"{d}:{c}"))}) in {started.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"  images: {result.ImageFolder}");
            Console.WriteLine($"  labels: {result.CsvPath}");
            return 0;
        });
        return command;
    }

    static int Fail(string message)
    {
        Console.Error.WriteLine($"ongko synth: {message}");
        return 2;
    }
}
