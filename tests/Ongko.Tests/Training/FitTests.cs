using System.IO.Compression;
using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Tests.Cli;
using Ongko.Training;

namespace Ongko.Tests.Training;

/// <summary>Training as a library call over any batch source, and every source reachable from a config through `ongko train`.</summary>
public class FitTests
{
    /// <summary>Class k is a bright horizontal bar at row 2k (plus noise): learnable by anything that trains.</summary>
    public static (byte[] Pixels, byte[] Labels) Bars(int count, ulong seed, int size = 20)
    {
        var rng = new Rng(seed);
        var pixels = new byte[count * size * size];
        var labels = new byte[count];
        for (int n = 0; n < count; n++)
        {
            int label = n % 10;
            labels[n] = (byte)label;
            for (int i = 0; i < size * size; i++) pixels[n * size * size + i] = (byte)(rng.NextDouble() * 60);
            for (int x = 2; x < size - 2; x++) pixels[n * size * size + (2 * label) * size + x] = 255;
        }
        return (pixels, labels);
    }

    internal static void WriteIdx(string path, byte[] data, params int[] shape)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write([0, 0, 8, (byte)shape.Length]);
        foreach (int d in shape) gzip.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        gzip.Write(data);
    }

    /// <summary>
    /// Bars as IDX files in <paramref name="dir"/> (300 images to train, 100 to validate; written once) and a config
    /// <paramref name="name"/> that trains <see cref="BarsModel"/> on them; returns the config's path.
    /// </summary>
    internal static string BarsIdxConfig(TempDirectory dir, string name, int epochs, string augment)
    {
        if (!File.Exists(dir.File("train-images.gz")))
        {
            var (trainPixels, trainLabels) = Bars(300, 1);
            var (testPixels, testLabels) = Bars(100, 2);
            WriteIdx(dir.File("train-images.gz"), trainPixels, 300, 20, 20);
            WriteIdx(dir.File("train-labels.gz"), trainLabels, 300);
            WriteIdx(dir.File("test-images.gz"), testPixels, 100, 20, 20);
            WriteIdx(dir.File("test-labels.gz"), testLabels, 100);
        }
        File.WriteAllText(dir.File(name), $"""
            epochs: {epochs}
            lr: 0.1
            momentum: 0.9
            train_batch: 32
            data_dir: '{dir.Path}'
            sources:
              - {"{"}type: idx, images: train-images.gz, labels: train-labels.gz, use: train{"}"}
              - {"{"}type: idx, images: test-images.gz, labels: test-labels.gz, use: valid{"}"}
            augment: {"{"}{augment}{"}"}
            {BarsModel}
            """);
        return dir.File(name);
    }

    const string BarsModel = """
        model:
          - [Flatten, []]
          - [Linear, [32]]
          - [ReLU, []]
          - [Linear, [10]]
          - [Softmax, []]
        """;

    [Fact]
    public void FitTrainsOnInMemoryArraysWithoutWritingFiles()
    {
        var (pixels, labels) = Bars(400, 1);
        float[] images = pixels.Select(p => p / 255f).ToArray();
        int[] classes = labels.Select(l => (int)l).ToArray();
        var train = new ArrayBatchSource(images[..(300 * 400)], classes[..300], [1, 20, 20], batchSize: 32, shuffle: true, seed: 3);
        var valid = new ArrayBatchSource(images[(300 * 400)..], classes[300..], [1, 20, 20], batchSize: 100);
        var options = ConfigFile.Parse("epochs: 4\nlr: 0.1\nmomentum: 0.9\naugment: {channels: 1, img_shape: [20, 20]}\n" + BarsModel, "bars.yaml");
        var model = LayerFactory.Create(options.Model, "bars").Build([1, 20, 20], new Rng(1));
        var epochs = new List<EpochResult>();
        var result = Trainer.Fit(model, train, valid, options, [new Recorder(epochs)]);
        Assert.False(result.Interrupted);
        Assert.Equal(4, result.History.Count);
        Assert.Equal(result.History, epochs);
        Assert.True(result.History[^1].ValidAccuracy > 0.9, $"validation accuracy {result.History[^1].ValidAccuracy}");
        Assert.Equal(4, result.State.CompletedEpochs);
    }

    sealed class Recorder(List<EpochResult> epochs) : ITrainingObserver
    {
        public void EpochCompleted(EpochResult result, IReadOnlyList<EpochResult> history) => epochs.Add(result);
    }

    [Fact]
    public void OngkoTrainReadsIdxSourcesFromTheConfig()
    {
        using var dir = new TempDirectory();
        string config = BarsIdxConfig(dir, "idx.yaml", epochs: 4, augment: "img_shape: [20, 20], reverse: false");
        var (code, output, error) = CliTests.Ongko("train", "--config", config, "-o", dir.File("out"));
        Assert.True(code == 0, error + output);
        Assert.Contains("on 300 images, validating on 100", output);
        var last = File.ReadAllLines(dir.File("out/logs.csv"))[^1].Split(',');
        Assert.True(double.Parse(last[6], System.Globalization.CultureInfo.InvariantCulture) > 0.9, string.Join(",", last));
        var reread = ConfigFile.Load(dir.File("out/config.yaml"));
        Assert.Equal([SourceType.Idx, SourceType.Idx], reread.Sources.Select(s => s.Type));
        Assert.Equal(SourceUse.Valid, reread.Sources[1].Use);
    }

    [Fact]
    public void OngkoTrainReadsALabelsCsvFolderAndSplitsEachSourceOnItsOwn()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("a"), 100, seed: 1, size: 28);
        SyntheticDigitsWriter.Write(dir.File("b"), 50, seed: 2, size: 28);
        File.WriteAllText(dir.File("csv.yaml"), $"""
            epochs: 1
            data_dir: '{dir.Path}'
            valid_fraction: 0.2
            sources:
              - {"{"}type: folder_csv, path: a/training-s, csv: a/training-s.csv{"}"}
              - {"{"}type: folder_csv, path: b/training-s, csv: b/training-s.csv, valid_fraction: 0.4{"}"}
            augment: {"{"}img_shape: [20, 20]{"}"}
            {BarsModel}
            """);
        var (code, output, error) = CliTests.Ongko("train", "--config", dir.File("csv.yaml"), "-o", dir.File("out"));
        Assert.True(code == 0, error + output);
        // 100 images split 80/20 and 50 split 60/40, each stratified by class on its own.
        Assert.Contains("on 110 images, validating on 40", output);
        Assert.True(File.Exists(dir.File("out/best.safetensors")));
    }

    [Fact]
    public void SplitSeedKeepsTheValidationSetWhileSeedChangesTheRest()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("a"), 100, seed: 1, size: 28);
        string Yaml(string seeds) => $"""
            {seeds}
            data_dir: '{dir.Path}'
            sources:
              - {"{"}type: folder_csv, path: a/training-s, csv: a/training-s.csv{"}"}
            augment: {"{"}img_shape: [20, 20]{"}"}
            {BarsModel}
            """;
        string[] Validation(string seeds) =>
            Ongko.Runs.TrainingRun.ReadSplit(ConfigFile.Parse(Yaml(seeds), "s.yaml")).Validation.Select(s => s.Name).ToArray();
        var reference = Validation("seed: 42");
        Assert.Equal(20, reference.Length);
        Assert.NotEqual(reference, Validation("seed: 7"));                    // the seed alone moves the split
        Assert.Equal(reference, Validation("seed: 7\nsplit_seed: 42"));      // split_seed pins it
        var config = ConfigFile.Parse(Yaml("seed: 7\nsplit_seed: 42"), "s.yaml");
        Assert.Equal(42UL, ConfigFile.Parse(ConfigFile.ToYaml(config), "again.yaml").SplitSeed);  // kept in the resolved config
    }

    [Fact]
    public void ClassFoldersAreReadInNameOrderAndCheckedAgainstNumClass()
    {
        using var dir = new TempDirectory();
        foreach (var (folder, count) in new[] { ("0", 3), ("1", 2), ("7", 1) })
        {
            Directory.CreateDirectory(dir.File(folder));
            for (int i = 0; i < count; i++)
                File.WriteAllBytes(dir.File($"{folder}/{i}.png"), SyntheticDigits.EncodePng(SyntheticDigits.Render(int.Parse(folder), (ulong)i, 16)));
        }
        var samples = new DataSource { Type = SourceType.ClassFolders, Path = dir.Path }.Read(10);
        Assert.Equal([0, 0, 0, 1, 1, 7], samples.Select(s => s.Label));
        Assert.Equal("7/0.png", samples[^1].Name);
        var e = Assert.Throws<DataException>(() => ClassFolderReader.Read(dir.Path, classCount: 5));
        Assert.Contains("class folder '7' is class 7, outside 0..4", e.Message);
    }

    [Theory]
    [InlineData("sources:\n  - {type: idx, images: a.gz}\n", "a idx source needs 'labels'")]
    [InlineData("sources:\n  - {path: x}\n", "a source needs 'type'")]
    [InlineData("sources:\n  - {type: mnist}\n", "sources[].type must be numtadb, folder_csv, class_folders or idx, got 'mnist'")]
    [InlineData("sources:\n  - {type: idx, imgs: a}\n", "did you mean 'sources[].images'?")]
    public void BadSourcesAreNamedWithTheirLine(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("model:\n  - [Flatten, []]\n" + yaml, "s.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.Equal(4, e.Line);
    }

    [Fact]
    public void WithoutDataDirTheErrorSaysWhereToGetNumtaDb()
    {
        var (code, _, error) = CliTests.Ongko("train", "--config", ConfigKeysTestsPath("configs/numta28.yaml"), "--epochs", "1");
        Assert.Equal(2, code);
        Assert.Contains("--data-dir", error);
        Assert.Contains("kaggle.com/datasets/BengaliAI/numta", error);
    }

    static string ConfigKeysTestsPath(string relative) => Serialization.ConfigKeysTests.RepositoryFile(relative);
}
