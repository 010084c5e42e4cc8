using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Models;
using Ongko.Prediction;
using Ongko.Runs;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;
using Ongko.Vision;

namespace Ongko.Tests.Prediction;

/// <summary>The prediction facade: any checkpoint, any input form, owned results, safe from several threads.</summary>
public class DigitClassifierTests
{
    static readonly string[] Rows = ["Conv2D:1,4,3,1,1", "ReLU:", "MaxPool2D:2,2", "Flatten:", "Linear:10", "Softmax:"];

    static Sequential SmallModel(ulong seed) =>
        LayerFactory.Create(Rows.Select((row, i) => new LayerSpec(row.Split(':')[0], row.Split(':')[1].Split(',', StringSplitOptions.RemoveEmptyEntries), i + 1, 0)), "test")
                    .Build([1, 16, 16], new Rng(seed));

    [Fact]
    public void ACheckpointFromCheckpointSaveClassifiesFilesBytesImagesAndBatchesAlike()
    {
        using var dir = new TempDirectory();
        var model = SmallModel(1);
        string path = dir.File("plain.safetensors");
        Checkpoint.Save(path, model);  // no training state: the default preprocessing is recorded
        var classifier = DigitClassifier.Load(path);
        Assert.Equal(10, classifier.ClassCount);
        Assert.Equal([1, 16, 16], classifier.InputShape);
        Assert.Equal(ReverseMode.Off, classifier.Preprocessing.Reverse);

        var digit = SyntheticDigits.Render(3, 7, 16);
        byte[] png = SyntheticDigits.EncodePng(digit);
        File.WriteAllBytes(dir.File("d.png"), png);
        var fromFile = classifier.Classify(dir.File("d.png"));
        var fromBytes = classifier.Classify(png, "d.png");
        var decoded = ImageDecoder.Decode(png, 1);
        var fromImage = classifier.Classify(decoded);
        var fromBatch = classifier.Classify([decoded, decoded]);
        var fromFiles = classifier.ClassifyFiles([dir.File("d.png"), dir.File("missing.png")]);
        Assert.Equal(fromFile.Probabilities, fromBytes.Probabilities);
        Assert.Equal(fromFile.Probabilities, fromImage.Probabilities);
        Assert.Equal(fromFile.Probabilities, fromBatch[1].Probabilities);
        Assert.Equal(fromFile.Probabilities, fromFiles.Predictions[0]!.Probabilities);
        Assert.Null(fromFiles.Predictions[1]);
        Assert.Single(fromFiles.Skipped);
        Assert.Equal(1, fromFile.Probabilities.Sum(), 4);
        Assert.Equal(fromFile.Probabilities.Max(), fromFile.Confidence);

        // The same numbers as the model itself, preprocessed by hand (grey, 16x16 already, times 1/255 as the pipeline does):
        // exactly its inference plan's (single images run it), its evaluation plan's within rounding.
        var input = new Tensor(decoded.Data.Select(b => b * (1f / 255f)).ToArray(), 1, 1, 16, 16);
        Assert.Equal(InferencePlan.TryCompile(model)!.Forward(input).Span.ToArray(), fromFile.Probabilities);
        TestData.AssertClose(model.Forward(input, training: false).Span.ToArray(), fromFile.Probabilities, 1e-6, 1e-4, "evaluation plan");

        // Owned: a later call does not change an earlier answer.
        float[] kept = fromFile.Probabilities.ToArray();
        classifier.Classify(ImageDecoder.Decode(SyntheticDigits.EncodePng(SyntheticDigits.Render(8, 9, 16)), 1));
        Assert.Equal(kept, fromFile.Probabilities);
    }

    [Fact]
    public void SeveralThreadsGetTheAnswersOneThreadGets()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        Checkpoint.Save(path, SmallModel(2));
        var classifier = DigitClassifier.Load(path);
        var images = Enumerable.Range(0, 40).Select(i => ImageDecoder.Decode(SyntheticDigits.EncodePng(SyntheticDigits.Render(i % 10, (ulong)i, 20)), 1)).ToArray();
        AssertThreadsAgree(images, image => classifier.Classify(image).Probabilities, rounds: 5);
    }

    /// <summary>Classifies every image alone, then each several times from up to 8 threads at once: the answers must be the same.</summary>
    internal static void AssertThreadsAgree(ByteImage[] images, Func<ByteImage, float[]> classify, int rounds)
    {
        var alone = images.Select(classify).ToArray();
        var together = new float[images.Length][];
        Parallel.For(0, images.Length * rounds, new ParallelOptions { MaxDegreeOfParallelism = 8 }, k =>
        {
            int i = k % images.Length;
            var answer = classify(images[i]);
            lock (together) { if (together[i] is { } seen) Assert.Equal(seen, answer); else together[i] = answer; }
        });
        for (int i = 0; i < images.Length; i++) Assert.Equal(alone[i], together[i]);
    }

    [Fact]
    public void ATrainedRunsCheckpointCarriesItsPreprocessing()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("data"), 60, seed: 3, size: 32);
        var config = Ongko.Tests.Training.TrainerTests.SmallConfig(dir.File("data"), dir.File("out"), 1);
        config.Model.RemoveAt(config.Model.Count - 1);  // no final Softmax: the facade must apply it
        config.Augment.Dilation = true;
        new TrainingRun(config).Run();
        var classifier = DigitClassifier.Load(dir.File("out/" + TrainingRun.BestCheckpointName));
        var preprocessing = classifier.Preprocessing;
        Assert.True(preprocessing.UseBoundingBox && preprocessing.Dilation);
        Assert.Equal((ReverseMode.Auto, 16, 16), (preprocessing.Reverse, preprocessing.Height, preprocessing.Width));
        Assert.False(preprocessing.Augment);  // training-only augmentation is off for prediction
        var image = Directory.GetFiles(dir.File("data/training-s"))[0];
        Assert.Equal(1, classifier.Classify(image).Probabilities.Sum(), 4);
    }
}
