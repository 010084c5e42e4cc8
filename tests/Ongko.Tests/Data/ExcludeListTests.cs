using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Data;

/// <summary>exclude: / --exclude: images left out of training, counted per source; names that match nothing are reported.</summary>
public class ExcludeListTests
{
    [Fact]
    public void NamedImagesLeaveTrainingAndUnmatchedNamesAreReported()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("a"), 60, seed: 1, size: 20);
        var samples = NumtaDbReader.Read(dir.File("a"), ["training-s"]);
        var (train, valid) = DataSplit.Stratified(samples, 0.2, seed: 42);
        var validation = valid.ToList();
        // An audit-style CSV: a path ending, a bare name, a full path, a validation image and a name that is nowhere.
        File.WriteAllText(dir.File("audit.csv"), "filename,source,given,predicted,score\n" +
            $"training-s/{train[0].Name},x,1,2,0.9\n{train[1].Name},x,1,2,0.8\n\"{Path.GetFullPath(train[2].Path!)}\",x,1,2,0.7\n" +
            $"training-s/{valid[0].Name},x,1,2,0.6\nnowhere.png,x,1,2,0.5\nother-folder/{train[3].Name},x,1,2,0.4\n");
        var expectedGone = train.Take(3).ToList();
        string fourth = train[3].Name;
        int before = train.Count;

        var report = ExcludeList.Apply([ExcludeList.Read(dir.File("audit.csv"))], train, valid);

        Assert.Equal(before - 3, train.Count);
        Assert.All(expectedGone, s => Assert.DoesNotContain(s, train));
        Assert.Equal(validation, valid);                             // validation is not filtered
        Assert.Equal(3, report.Excluded);
        Assert.Equal(1, report.InValidation);
        Assert.Equal(6, report.Entries);
        Assert.Equal(expectedGone.GroupBy(s => s.Source).ToDictionary(g => g.Key, g => g.Count()), report.ExcludedPerSource);
        // A path ending must match whole folder names: other-folder/ is not training-s/.
        Assert.Equal(["nowhere.png (audit.csv, line 6)", $"other-folder/{fourth} (audit.csv, line 7)"], report.Unmatched);
        var lines = report.Lines().ToList();
        Assert.StartsWith("Excluded 3 training image(s) named in", lines[0]);
        Assert.Contains("1 named image(s) are in the validation split and stay there", lines[0]);
        Assert.StartsWith("warning: 2 name(s) of the exclude list match no image of this run: nowhere.png (audit.csv, line 6)", lines[1]);
    }

    [Fact]
    public void APlainListHasOneNamePerLineWithCommentsAndBlankLines()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("list.txt"), "# flagged by hand\n\ns_001.png\n  training-s/s_002.png  \r\n");
        var list = ExcludeList.Read(dir.File("list.txt"));
        Assert.Equal([(3, "s_001.png"), (4, "training-s/s_002.png")], list.Entries);
        var missing = Assert.Throws<DataException>(() => ExcludeList.Read(dir.File("none.txt")));
        Assert.Contains("none.txt", missing.Message);
    }

    [Fact]
    public void OngkoTrainExcludesAndSaysHowMany()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("a"), 50, seed: 1, size: 20);
        File.WriteAllText(dir.File("c.yaml"), $$"""
            epochs: 1
            data_dir: '{{dir.File("a")}}'
            train_folders: [training-s]
            valid_fraction: 0
            augment: {img_shape: [20, 20]}
            model:
              - [Flatten, []]
              - [Linear, [10]]
              - [Softmax, []]
            """);
        string[] names = File.ReadAllLines(dir.File("a/training-s.csv")).Skip(1).Take(4).Select(l => l.Split(',')[0]).ToArray();
        File.WriteAllText(dir.File("x.txt"), string.Join("\n", names) + "\nmissing.png\n");
        var (code, output, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "-o", dir.File("out"), "--exclude", dir.File("x.txt"));
        Assert.True(code == 0, error + output);
        Assert.Contains("Excluded 4 training image(s)", output);
        Assert.Contains("match no image of this run: missing.png (x.txt, line 5)", output);
        Assert.Contains("on 46 images", output);

        (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "-o", dir.File("out2"), "--exclude", dir.File("nope.txt"));
        Assert.Equal(2, code);
        Assert.Contains("nope.txt", error);
    }
}
