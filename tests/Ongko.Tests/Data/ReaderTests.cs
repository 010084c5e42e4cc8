using System.IO.Compression;
using Ongko.Data;

namespace Ongko.Tests.Data;

public class ReaderTests
{
    static readonly byte[] Png = File.ReadAllBytes(Path.Combine(DataTestSupport.FixtureDirectory, "grey8.png"));

    /// <summary>A NumtaDB-style folder: training-a (3 images, extra column, quoted field) and training-b (2 images, no source column).</summary>
    static TempDirectory MakeNumta()
    {
        var temp = DataTestSupport.NewTempFolder();
        Directory.CreateDirectory(temp["training-a"]);
        Directory.CreateDirectory(temp["training-b"]);
        foreach (var f in new[] { "a0.png", "a1.png", "a 2.png" }) File.WriteAllBytes(Path.Combine(temp["training-a"], f), Png);
        foreach (var f in new[] { "b0.png", "b1.png" }) File.WriteAllBytes(Path.Combine(temp["training-b"], f), Png);
        File.WriteAllText(temp["training-a.csv"],
            "filename,original filename,digit,database name,database name original,extra\r\n" +
            "a0.png,x.png,3,training-a,BHDDB,1\r\na1.png,y.png,9,training-a,BHDDB,\"q, r\"\r\n\"a 2.png\",z.png,0,training-a,OngkoDB,2\r\n");
        File.WriteAllText(temp["training-b.csv"], "digit,filename\n1,b0.png\n2,b1.png\n");
        return temp;
    }

    [Fact]
    public void ReadsNumtaDbFoldersInOrderWithSourcesAndLabels()
    {
        using var temp = MakeNumta();
        var samples = NumtaDbReader.Read(temp.Path, ["training-a", "training-b"]);
        Assert.Equal(["a0.png", "a1.png", "a 2.png", "b0.png", "b1.png"], samples.Select(s => s.Name));
        Assert.Equal([3, 9, 0, 1, 2], samples.Select(s => s.Label));
        Assert.Equal(["BHDDB", "BHDDB", "OngkoDB", "training-b", "training-b"], samples.Select(s => s.Source));
        Assert.True(File.Exists(samples[2].Path));
        Assert.Equal(3, NumtaDbReader.Read(temp.Path, ["training-a"]).Count);
    }

    [Fact]
    public void MissingFolderCsvColumnFileAndBadLabelsAreNamed()
    {
        using var temp = MakeNumta();
        var e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-a", "training-c"]));
        Assert.Contains("training-c", e.Message); Assert.Contains("not found", e.Message);

        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp["nowhere"]));
        Assert.Contains("data folder not found", e.Message);

        Directory.CreateDirectory(temp["training-c"]);
        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"]));
        Assert.Contains("training-c.csv", e.Message); Assert.Contains("label file", e.Message);

        File.WriteAllText(temp["training-c.csv"], "filename,label\nc.png,1\n");
        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"]));
        Assert.Contains("training-c.csv, line 1: missing required column 'digit'", e.Message);

        File.WriteAllText(temp["training-c.csv"], "filename,digit\nc.png,1\n");
        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"]));
        Assert.Contains("training-c.csv, line 2: image 'c.png' listed in the CSV is missing", e.Message);

        File.WriteAllBytes(Path.Combine(temp["training-c"], "c.png"), Png);
        File.WriteAllText(temp["training-c.csv"], "filename,digit\nc.png,1\nc.png,10\n");
        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"]));
        Assert.Contains("line 3: digit 10 of c.png is outside 0..9", e.Message);
        Assert.Equal(3, e.Line);

        File.WriteAllText(temp["training-c.csv"], "filename,digit\nc.png,seven\n");
        e = Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"]));
        Assert.Contains("line 2: digit 'seven' of c.png is not a whole number", e.Message);

        File.WriteAllText(temp["training-c.csv"], "filename,digit\nc.png,-1\n");
        Assert.Contains("outside 0..9", Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"])).Message);
        // A smaller class count makes a normally valid label invalid.
        File.WriteAllText(temp["training-c.csv"], "filename,digit\nc.png,5\n");
        Assert.Contains("outside 0..4", Assert.Throws<DataException>(() => NumtaDbReader.Read(temp.Path, ["training-c"], classCount: 5)).Message);
    }

    [Fact]
    public void ImageFolderListsImagesOfAnyCaseSortedAndReadsOptionalLabels()
    {
        using var temp = DataTestSupport.NewTempFolder();
        foreach (var f in new[] { "b.PNG", "a.jpeg", "c.Jpg", "d.txt", "e.gif" }) File.WriteAllBytes(temp[f], Png);
        Directory.CreateDirectory(temp["sub"]);
        var samples = ImageFolderReader.Read(temp.Path);
        Assert.Equal(["a.jpeg", "b.PNG", "c.Jpg"], samples.Select(s => s.Name));
        Assert.All(samples, s => Assert.Equal(-1, s.Label));

        File.WriteAllText(temp["labels.csv"], "filename,digit\nc.Jpg,4\na.jpeg,7\n");
        var labelled = ImageFolderReader.Read(temp.Path, temp["labels.csv"]);
        Assert.Equal([("c.Jpg", 4), ("a.jpeg", 7)], labelled.Select(s => (s.Name, s.Label)));

        Assert.Contains("no .png, .jpg or .jpeg images", Assert.Throws<DataException>(() => ImageFolderReader.Read(temp["sub"])).Message);
        Assert.Contains("CSV file not found", Assert.Throws<DataException>(() => ImageFolderReader.Read(temp.Path, temp["none.csv"])).Message);
    }

    [Fact]
    public void IdxReadsRawAndGzippedFilesAndRejectsBrokenOnes()
    {
        using var temp = DataTestSupport.NewTempFolder();
        byte[] images = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16];
        byte[] labels = [0, 0, 8, 1, 0, 0, 0, 2, 7, 2];
        File.WriteAllBytes(temp["images-idx3-ubyte"], images);
        using (var gz = new GZipStream(File.Create(temp["labels-idx1-ubyte.gz"]), CompressionLevel.Fastest)) gz.Write(labels);
        var samples = IdxReader.Read(temp["images-idx3-ubyte"], temp["labels-idx1-ubyte.gz"]);
        Assert.Equal(2, samples.Count);
        Assert.Equal([7, 2], samples.Select(s => s.Label));
        Assert.Equal((2, 3), (samples[1].Image!.Height, samples[1].Image!.Width));
        Assert.Equal([11, 12, 13, 14, 15, 16], samples[1].Image!.Data);
        var transposed = IdxReader.Read(temp["images-idx3-ubyte"], temp["labels-idx1-ubyte.gz"], transpose: true);
        Assert.Equal([1, 4, 2, 5, 3, 6], transposed[0].Image!.Data);

        File.WriteAllBytes(temp["short"], images.AsSpan(0, 20).ToArray());
        Assert.Contains("truncated", Assert.Throws<DataException>(() => IdxReader.Read(temp["short"], temp["labels-idx1-ubyte.gz"])).Message);
        File.WriteAllBytes(temp["labels3"], [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
        Assert.Contains("3 labels for 2 images", Assert.Throws<DataException>(() => IdxReader.Read(temp["images-idx3-ubyte"], temp["labels3"])).Message);
        File.WriteAllBytes(temp["bad"], [0, 0, 8, 1, 0, 0, 0, 2, 1, 12]);
        Assert.Contains("label 12 of image 1", Assert.Throws<DataException>(() => IdxReader.Read(temp["images-idx3-ubyte"], temp["bad"])).Message);
        File.WriteAllText(temp["text"], "hello world");
        Assert.Contains("bad magic", Assert.Throws<DataException>(() => IdxReader.Read(temp["text"], temp["bad"])).Message);
    }

    [PathFact("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")]
    public void ReadsDebiansFashionMnist()
    {
        const string dir = "/usr/share/datasets/fashion-mnist";
        var samples = IdxReader.Read(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"));
        Assert.Equal(10000, samples.Count);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, samples.Count(s => s.Label == c)));
        Assert.Equal((28, 28), (samples[0].Image!.Height, samples[0].Image!.Width));
        Assert.InRange(samples.Take(100).Average(s => s.Image!.Data.Average(b => (double)b)), 30, 120);
    }
}
