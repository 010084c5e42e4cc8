using Ongko.Cli;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tests.Serialization;
using Ongko.Tests;

namespace Ongko.Tests.Shipped;

/// <summary>The model in models/: small, weights only, carries its preprocessing, reads the committed sample pictures.</summary>
public class ShippedModelTests
{
    static readonly string ModelFile = ConfigKeysTests.RepositoryFile(Path.Combine("models", ShippedModel.FileName));

    [Fact]
    public void ShippedCheckpointIsSmallWeightsOnlyAndCarriesItsPreprocessing()
    {
        Assert.True(new FileInfo(ModelFile).Length < 4 << 20, "the shipped model should stay a few MB");
        var content = Checkpoint.Read(ModelFile);
        Assert.DoesNotContain(content.Tensors.Keys, name => name.StartsWith("optimizer.", StringComparison.Ordinal));
        var state = TrainingCheckpoint.ReadState(content.Metadata, ModelFile);
        Assert.Equal(10, state.ClassCount);
        Assert.Equal(NormalizeMode.Digit, state.Preprocessing.Normalize);
        var model = Checkpoint.LoadModel(ModelFile, content);
        CheckpointMetadata.CheckModel(state.ClassCount, state.Preprocessing, model, ModelFile);
    }

    [Fact]
    public void TheBuildPutsTheShippedModelBesideTheProgram()
    {
        Assert.True(File.Exists(ShippedModel.Path), $"{ShippedModel.Path} is missing: predict without --checkpoint would fail");
        Assert.Equal(File.ReadAllBytes(ModelFile), File.ReadAllBytes(ShippedModel.Path));
    }

    /// <summary>models/samples/&lt;digit&gt;_*.jpg|png: real digits (NumtaDB validation images, some drawn as photos).</summary>
    [Fact]
    public void ShippedModelReadsTheCommittedSamples()
    {
        var classifier = Ongko.Prediction.DigitClassifier.Load(ModelFile);
        var files = Directory.GetFiles(ConfigKeysTests.RepositoryFile(Path.Combine("models", "samples"))).Where(ImageFolderReader.IsImageFile).Order().ToList();
        Assert.True(files.Count >= 10, $"{files.Count} sample pictures");
        var wrong = new List<string>();
        foreach (string file in files)
        {
            int expected = Path.GetFileName(file)[0] - '0';
            var answer = classifier.Classify(file);
            if (answer.Label != expected) wrong.Add($"{Path.GetFileName(file)} read as {answer.Label} ({answer.Confidence:F2})");
        }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }
}

/// <summary>`ongko predict` as a person uses it: no checkpoint, one picture, several, a folder.</summary>
public class PredictForPeopleTests
{
    static readonly string Samples = ConfigKeysTests.RepositoryFile(Path.Combine("models", "samples"));

    [Fact]
    public void OnePictureWithoutACheckpointPrintsTheNumeralTheDigitTheConfidenceAndTopThree()
    {
        using var dir = new TempDirectory();
        var (code, output, error) = Cli.CliTests.Ongko("predict", Path.Combine(Samples, "3_photo_00011.jpg"), "-o", dir.Path);
        Assert.True(code == 0, error);
        var lines = output.Split('\n');
        Assert.StartsWith("3_photo_00011.jpg: ৩ (3)  confidence ", lines[0]);
        Assert.StartsWith("top 3: ৩ (3) ", lines[1]);
        Assert.Equal(3, lines[1].Split(", ").Length);
        var csv = File.ReadAllLines(Path.Combine(dir.Path, "predictions.csv"));
        Assert.Equal("FileName,Digit,Confidence,P0,P1,P2,P3,P4,P5,P6,P7,P8,P9", csv[0]);
        var probabilities = csv[1].Split(',').Skip(3).Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(10, probabilities.Length);
        Assert.InRange(probabilities.Sum(), 0.999, 1.001);
        Assert.Equal(3, Array.IndexOf(probabilities, probabilities.Max()));
    }

    [Fact]
    public void SeveralFilesAndAGlobGoIntoOneCsvWithQuotedNames()
    {
        using var dir = new TempDirectory();
        string odd = dir.File("a, \"quoted\" name.jpg");
        File.Copy(Path.Combine(Samples, "7_photo_00001.jpg"), odd);
        var (code, output, error) = Cli.CliTests.Ongko("predict", odd, Path.Combine(Samples, "0_*.jpg"), Path.Combine(Samples, "8_photo_00000.jpg"), "-o", dir.File("out"));
        Assert.True(code == 0, error);
        Assert.Contains("Classified 3 image(s)", output);
        var rows = Ongko.Data.CsvTable.Read(Path.Combine(dir.File("out"), "predictions.csv")).Rows.Select(r => r.Fields).ToList();
        Assert.Equal([odd, Path.Combine(Samples, "0_photo_00008.jpg"), Path.Combine(Samples, "8_photo_00000.jpg")], rows.Select(r => r[0]));
        Assert.Equal(["7", "0", "8"], rows.Select(r => r[1]));
        Assert.All(rows, r => Assert.Equal(13, r.Length));
    }
}
