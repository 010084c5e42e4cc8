using System.Globalization;
using System.Text;
using Ongko.Cli;
using Ongko.Cli.Commands;
using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Prediction;

namespace Ongko.Tests.Cli;

/// <summary>`ongko predict FOLDER`: the pipelined path (decoding in parallel ahead of the model, the CSV formatted in parallel blocks)
/// writes exactly what classifying the same batches one after another and formatting row by row gives.</summary>
[Collection(ThreadCountCollection.Name)]
public class PredictFolderTests
{
    [Fact]
    public void ThePipelinedFolderPathEqualsTheSequentialOne()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("images"));
        for (int i = 0; i < 2300; i++)   // more rows than one CSV block, a partial last batch
            File.WriteAllBytes(dir.File($"images/{i:D4}.png"), SyntheticDigits.EncodePng(SyntheticDigits.Render(i % 10, (ulong)i, 16 + i % 9)));
        File.WriteAllBytes(dir.File("images/zz-broken.png"), [0x89, (byte)'P', (byte)'N', (byte)'G']);  // skipped, no row
        string model = ShippedModel.Path;
        const int batch = 200;

        Assert.Equal(0, PredictCommand.Run(dir.File("images"), model, null, dir.File("out"), batch, TextWriter.Null));
        string written = File.ReadAllText(Path.Combine(dir.File("out"), "predictions.csv"));

        // Sequential reference: the same batches (in file order, smaller at the end, the broken file left out of its batch as the
        // loader skips it), one by one.
        var classifier = DigitClassifier.Load(model);
        var all = PredictInputs.Expand([dir.File("images")]);
        var starts = DigitClassifier.BatchStarts(all.Count, batch);
        Assert.True(starts.Length > 2300 / batch + 2);   // smaller batches at the end
        var inv = CultureInfo.InvariantCulture;
        var expected = new StringBuilder("FileName,Digit,Confidence,P0,P1,P2,P3,P4,P5,P6,P7,P8,P9\n");
        for (int b = 0; b + 1 < starts.Length; b++)
        {
            var chunk = all.Skip(starts[b]).Take(starts[b + 1] - starts[b]).Where(s => !s.Name.StartsWith("zz", StringComparison.Ordinal)).ToArray();
            var answers = classifier.Classify(chunk.Select(s => ImageDecoder.DecodeCompact(s.Path!, classifier.InputShape[0])).ToList());
            for (int n = 0; n < chunk.Length; n++)
            {
                var a = answers[n];
                expected.Append(chunk[n].Name).Append(',').Append(a.Label).Append(',').Append(a.Probabilities[a.Label].ToString("F4", inv));
                foreach (float p in a.Probabilities) expected.Append(',').Append(p.ToString("F6", inv));
                expected.Append('\n');
            }
        }
        Assert.Equal(expected.ToString(), written);
    }

    /// <summary>The batches cover every file once, in order, never above the batch size, and shrink at the end.</summary>
    [Theory]
    [InlineData(10_000, 256)] [InlineData(700, 64)] [InlineData(1, 256)] [InlineData(0, 5)] [InlineData(50, 1)] [InlineData(100, 20)]
    public void BatchesCoverTheFilesOnceAndShrinkAtTheEnd(int count, int batch)
    {
        var starts = DigitClassifier.BatchStarts(count, batch);
        Assert.Equal(0, starts[0]);
        Assert.Equal(count, starts[^1]);
        var sizes = starts.Zip(starts.Skip(1), (a, b) => b - a).ToArray();
        Assert.All(sizes, size => Assert.InRange(size, 1, batch));
        for (int i = 1; i < sizes.Length; i++) Assert.True(sizes[i] <= sizes[i - 1]);
        if (count >= 8 * batch && batch >= 64)
        {
            Assert.Equal(batch, sizes[0]);
            Assert.True(sizes[^2] <= 32, string.Join(",", sizes));   // the last batches hold a few dozen files
        }
    }

    /// <summary>
    /// Two workers, each with its own batches and model copy, give exactly the answers of one thread going batch after
    /// batch, with unreadable files in the middle of batches (left out of their batch, listed in file order).
    /// </summary>
    [Fact]
    public void BatchParallelClassificationEqualsTheSequentialOne()
    {
        using var dir = new TempDirectory();
        var paths = new List<string>();
        for (int i = 0; i < 700; i++)
        {
            string path = dir.File($"{i:D4}.png");
            if (i % 97 == 5) File.WriteAllText(path, "not an image");
            else File.WriteAllBytes(path, SyntheticDigits.EncodePng(SyntheticDigits.Render(i % 10, (ulong)i, 18 + i % 7)));
            paths.Add(path);
        }
        int saved = Ongko.Kernels.Threads.Count;
        Ongko.Kernels.Threads.Count = 2;
        try
        {
            var classifier = DigitClassifier.Load(ShippedModel.Path);
            var parallel = classifier.ClassifyFiles(paths, 64);
            var sequential = classifier.ClassifyFilesSequentially(paths, 64);
            Assert.Equal(sequential.Skipped, parallel.Skipped);
            Assert.Equal(8, parallel.Skipped.Count);
            Assert.Contains("not a PNG or JPEG", parallel.Skipped.First());
            for (int i = 0; i < paths.Count; i++)
            {
                Assert.Equal(sequential.Predictions[i] is null, parallel.Predictions[i] is null);
                if (parallel.Predictions[i] is { } p) Assert.Equal(sequential.Predictions[i]!.Probabilities, p.Probabilities);
            }
            Assert.Equal(692, parallel.Predictions.Count(p => p is not null));
        }
        finally { Ongko.Kernels.Threads.Count = saved; }
    }
}
