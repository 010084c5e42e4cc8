using Ongko.Data;
using Ongko.Tests.Cli;
using Ongko.Tests.Data;

namespace Ongko.Tests.Hostile;

/// <summary>Issue classes 3, 4 and 5 for data: CSV rows that escape the folder, repeat or fall short; data that cannot be read at all.</summary>
public class DataHostileTests
{
    /// <summary>A labelled folder: images/ with n small PNGs (d0.png, ...) and labels.csv listing them.</summary>
    static string LabelledFolder(TempDirectory dir, int count = 3)
    {
        string images = dir.File("images");
        Directory.CreateDirectory(images);
        var lines = new List<string> { "filename,digit" };
        for (int i = 0; i < count; i++)
        {
            string name = $"d{i}.png";
            File.Copy(Path.Combine(DataTestSupport.FixtureDirectory, "grey8.png"), Path.Combine(images, name));
            lines.Add($"{name},{i % 10}");
        }
        File.WriteAllLines(dir.File("labels.csv"), lines);
        return images;
    }

    [Theory]
    [InlineData("\"../outside.png\",1", "line 5: file name '../outside.png' points outside the image folder")]
    [InlineData("\"sub/../../outside.png\",1", "points outside the image folder")]
    [InlineData("/etc/passwd,1", "points outside the image folder")]
    [InlineData("..,1", "points outside the image folder")]
    [InlineData("\"bad\0name.png\",1", "points outside the image folder")]
    [InlineData("d1.png,1", "line 5: 'd1.png' is listed twice (lines 3 and 5)")]
    [InlineData("d9.png", "line 5: row has 1 field(s), the header has 2")]
    public void BadCsvRowsAreRefusedWithTheirLine(string row, string fragment)
    {
        using var dir = new TempDirectory();
        string images = LabelledFolder(dir);
        File.WriteAllBytes(dir.File("outside.png"), File.ReadAllBytes(Path.Combine(images, "d0.png")));
        File.AppendAllText(dir.File("labels.csv"), row + "\n");
        var error = Assert.Throws<DataException>(() => ImageFolderReader.Read(images, dir.File("labels.csv")));
        Assert.Contains("labels.csv, line 5", error.Message);
        Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void CsvNamesInSubfoldersOfTheFolderAreFine()
    {
        using var dir = new TempDirectory();
        string images = LabelledFolder(dir);
        Directory.CreateDirectory(Path.Combine(images, "sub"));
        File.Copy(Path.Combine(images, "d0.png"), Path.Combine(images, "sub", "e.png"));
        File.AppendAllText(dir.File("labels.csv"), "sub/e.png,4\n./sub/../d1.png,5\n");
        var error = Record.Exception(() => ImageFolderReader.Read(images, dir.File("labels.csv")));
        Assert.Null(error);
        Assert.Equal(5, ImageFolderReader.Read(images, dir.File("labels.csv")).Count);
    }

    [Fact]
    public void ADataSetWhereNoImageCanBeReadIsAnErrorWithTheFirstReasons()
    {
        using var dir = new TempDirectory();
        string images = LabelledFolder(dir);
        foreach (string file in Directory.GetFiles(images)) File.WriteAllText(file, "not an image");
        var samples = ImageFolderReader.Read(images, dir.File("labels.csv"));
        foreach (int prefetch in new[] { 0, 2 })
        {
            var loader = new DataLoader(samples, new AugmentOptions { Channels = 1, Height = 8, Width = 8 }, 2, shuffle: false, train: true, seed: 1, prefetch: prefetch);
            var error = Assert.Throws<DataException>(() => loader.Epoch(1).Count());
            Assert.Contains("none of the 3 image(s) could be read", error.Message);
            Assert.Contains("not a PNG or JPEG", error.Message);
        }
    }

    [Fact]
    public void PredictRefusesBadGroundTruthAndUnreadableFoldersWithExitCode2()
    {
        using var dir = new TempDirectory();
        CheckpointHostileTests.RealCheckpoint(dir.Path);
        string checkpoint = dir.File("real.safetensors");
        string images = LabelledFolder(dir);

        File.WriteAllText(dir.File("short.csv"), "filename,digit\nd0.png,1\nd1.png\n");
        var (code, _, error) = CliTests.Ongko("predict", images, "--checkpoint", checkpoint, "--gt", dir.File("short.csv"), "-o", dir.File("p1"));
        Assert.Equal(2, code);
        Assert.Contains("short.csv, line 3: row has 1 field(s)", error);

        File.WriteAllText(dir.File("twice.csv"), "filename,digit\nd0.png,1\nd0.png,2\n");
        (code, _, error) = CliTests.Ongko("predict", images, "--checkpoint", checkpoint, "--gt", dir.File("twice.csv"), "-o", dir.File("p2"));
        Assert.Equal(2, code);
        Assert.Contains("'d0.png' is listed twice", error);

        foreach (string file in Directory.GetFiles(images)) File.WriteAllText(file, "not an image");
        (code, _, error) = CliTests.Ongko("predict", images, "--checkpoint", checkpoint, "-o", dir.File("p3"));
        Assert.Equal(2, code);
        Assert.Contains("none of the 3 image(s) could be read", error);
        Assert.DoesNotContain("internal error", error);
        foreach (string rejected in new[] { "p1", "p2", "p3" }) Assert.False(Directory.Exists(dir.File(rejected)), $"{rejected} was left behind");
    }
}
