using Ongko.Serialization;
using Ongko.Training;

namespace Ongko.Tests.Serialization;

/// <summary>The config keys are declared once; the README's table, ToYaml and the suggestions come from that declaration.</summary>
public class ConfigKeysTests
{
    const string Begin = "<!-- config keys: generated from src/Ongko/Serialization/ConfigKeys.cs -->", End = "<!-- end of config keys -->";

    public static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ongko.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new DirectoryNotFoundException("repository root not found");
    }

    /// <summary>Set ONGKO_WRITE_README=1 to rewrite the table in README.md after changing a key.</summary>
    [Fact]
    public void ReadmeKeyTableIsTheGeneratedOne()
    {
        string path = RepositoryFile("README.md"), readme = File.ReadAllText(path);
        int begin = readme.IndexOf(Begin, StringComparison.Ordinal), end = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"README.md lacks the markers {Begin} ... {End}");
        string current = readme[(begin + Begin.Length)..end].Trim('\n'), generated = ConfigKeys.MarkdownTable().Trim('\n');
        if (current != generated && Environment.GetEnvironmentVariable("ONGKO_WRITE_README") == "1")
        {
            File.WriteAllText(path, readme[..(begin + Begin.Length)] + "\n" + generated + "\n" + readme[end..]);
            return;
        }
        Assert.True(current == generated, "README.md's config key table differs from ConfigKeys.MarkdownTable(); run the tests with ONGKO_WRITE_README=1 to update it");
    }

    [Fact]
    public void EveryKeyIsWrittenAndReadBack()
    {
        var config = ConfigFile.Parse("""
            epochs: 7
            data_dir: d
            optimizer: adamw
            betas: [0.8, 0.99]
            checkpoint_path: c.safetensors
            model:
              - [Flatten, []]
              - [Linear, [10]]
            augment: {img_shape: [12, 10], reverse: false, mixup: 0.25, affine: {degrees: 5}, affine_prob: 0.5, on_bad_image: fail}
            lr_scheduler: {factor: 0.25, patience: 3}
            lr_schedule: {name: cosine, warmup_epochs: 1.5, min_lr: 0.001}
            """, "k.yaml");
        string yaml = ConfigFile.ToYaml(config);
        var again = ConfigFile.Parse(yaml, "resolved.yaml");
        Assert.Equal(yaml.Split('\n')[1..], ConfigFile.ToYaml(again).Split('\n')[1..]);
        Assert.Equal((7, "d", "adamw", 0.8f, "c.safetensors"), (again.Epochs, again.DataDir, again.Optimizer, again.Betas[0], again.CheckpointPath));
        Assert.Equal((12, 10, Ongko.Data.ReverseMode.Off, 0.25, 0.5), (again.Augment.Height, again.Augment.Width, again.Augment.Reverse, again.Augment.Mixup, again.Augment.AffineProbability));
        Assert.Equal(("cosine", 1.5f, 0.001f), (again.Schedule!.Name, again.Schedule.WarmupEpochs, again.Schedule.MinLearningRate));
        Assert.Equal((0.25f, 3), (again.LrScheduler.Factor, again.LrScheduler.Patience));
        // Every key with a value in this config appears in the YAML, under its section.
        foreach (var key in ConfigKeys.All.Where(k => k.Section == "" && k.Write(config) is not null))
            Assert.Contains("\n" + key.Name + ":", yaml);
    }

    [Theory]
    [InlineData("lr_scheduler:\n  patients: 3\n", 4, "unknown key 'lr_scheduler.patients'; did you mean 'lr_scheduler.patience'?")]
    [InlineData("lr_schedule: {name: cosin}\n", 3, "lr_schedule.name must be onecycle, cosine or plateau, got 'cosin'")]
    [InlineData("augmnet: {}\n", 3, "did you mean 'augment'?")]
    [InlineData("optimizer: lbfgs\n", 3, "optimizer must be sgd, adam or adamw, got 'lbfgs'")]
    public void MisspeltKeysAndValuesAreNamed(string yaml, int line, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("model:\n  - [Flatten, []]\n" + yaml, "m.yaml"));
        Assert.Contains(expected, e.Message);
        Assert.Equal(line, e.Line);
    }

    [Fact]
    public void PlateauWordsKeepThePlateauRule()
    {
        foreach (var text in new[] { "lr_schedule: plateau\n", "lr_schedule: {name: plateau}\n", "" })
            Assert.Null(ConfigFile.Parse("model:\n  - [Flatten, []]\n" + text, "p.yaml").Schedule);
        Assert.DoesNotContain("lr_schedule:", ConfigFile.ToYaml(new TrainConfig()));
    }
}
