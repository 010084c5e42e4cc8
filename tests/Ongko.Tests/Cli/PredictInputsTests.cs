using Ongko.Cli;
using Ongko.Data;

namespace Ongko.Tests.Cli;

public class PredictInputsTests
{
    [Fact]
    public void FilesFoldersAndGlobsExpandInOrderWithUsableNames()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("a"));
        foreach (var name in new[] { "a/2.png", "a/1.jpg", "a/notes.txt", "b.JPEG", "c.png" }) File.WriteAllBytes(dir.File(name), [1]);
        var folder = PredictInputs.Expand([dir.File("a")]);
        Assert.Equal(["1.jpg", "2.png"], folder.Select(s => s.Name));                       // one folder: file names, sorted
        var mixed = PredictInputs.Expand([dir.File("c.png"), dir.File("a"), Path.Combine(dir.Path, "*.JPEG")]);
        Assert.Equal([dir.File("c.png"), Path.Combine(dir.File("a"), "1.jpg"), Path.Combine(dir.File("a"), "2.png"), dir.File("b.JPEG")],
                     mixed.Select(s => s.Name));
        Assert.Equal("c.png", PredictInputs.Expand([dir.File("c.png")]).Single().Name);
        Assert.All(mixed, s => Assert.Equal(-1, s.Label));
    }

    [Fact]
    public void MissingInputsAreOneClearError()
    {
        using var dir = new TempDirectory();
        Assert.Contains("no such image file or folder", Assert.Throws<DataException>(() => PredictInputs.Expand([dir.File("nope.png")])).Message);
        Assert.Contains("no .png, .jpg or .jpeg image matches", Assert.Throws<DataException>(() => PredictInputs.Expand([dir.File("*.png")])).Message);
        Assert.Throws<UsageException>(() => PredictInputs.Expand([]));
        Assert.Equal("০", ShippedModel.Bengali(0));
        Assert.Equal("৯", ShippedModel.Bengali(9));
    }
}
