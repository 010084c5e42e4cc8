using Ongko.Training;

namespace Ongko.Tests.Training;

public class MetricsTests
{
    [Fact]
    public void MacroF1MatchesScikitLearn()
    {
        // By hand: class 0 P=1/2 R=1/2 F1=0.5; class 1 P=2/3 R=1 F1=0.8; class 2 P=1 R=2/3 F1=0.8 → macro 0.7
        int[] actual = [0, 0, 1, 1, 2, 2, 2], predicted = [0, 1, 1, 1, 2, 0, 2];
        var matrix = new ConfusionMatrix(3);
        for (int i = 0; i < actual.Length; i++) matrix.Add(actual[i], predicted[i]);
        Assert.Equal(0.7, matrix.MacroF1, 9);
        Assert.Equal(5.0 / 7, matrix.Accuracy, 9);
        var (precision, recall, f1, support) = matrix.ForClass(1);
        Assert.Equal(2.0 / 3, precision, 9);
        Assert.Equal(1.0, recall, 9);
        Assert.Equal(0.8, f1, 9);
        Assert.Equal(2, support);
    }

    [Fact]
    public void SchedulerFiresAfterPatienceEpochsWithoutImprovement()
    {
        var scheduler = new ReduceLROnPlateau(factor: 0.5f, patience: 2);
        float lr = 0.1f;
        lr = scheduler.Step(0.90, lr); Assert.Equal(0.1f, lr);   // first value is the best
        lr = scheduler.Step(0.95, lr); Assert.Equal(0.1f, lr);   // improved
        lr = scheduler.Step(0.95, lr); Assert.Equal(0.1f, lr);   // bad epoch 1
        lr = scheduler.Step(0.9500001, lr); Assert.Equal(0.1f, lr); // bad epoch 2: below the 1e-4 relative threshold
        lr = scheduler.Step(0.94, lr); Assert.Equal(0.05f, lr);  // bad epoch 3 > patience: halve
        Assert.Equal(0, scheduler.BadEpochs);
        lr = scheduler.Step(0.96, lr); Assert.Equal(0.05f, lr);  // improvement resets

        var restored = new ReduceLROnPlateau(0.5f, 2);
        restored.LoadState(scheduler.SaveState());
        Assert.Equal(scheduler.Best, restored.Best);
        Assert.Equal(scheduler.BadEpochs, restored.BadEpochs);
    }

    [Fact]
    public void SchedulerRespectsMinimumLearningRate()
    {
        var scheduler = new ReduceLROnPlateau(0.1f, 0, minLearningRate: 0.005f);
        float lr = scheduler.Step(1, 0.01f);
        lr = scheduler.Step(0.5, lr);
        Assert.Equal(0.005f, lr);
    }

    [Fact]
    public void TensorBoardEventsDecodeBack()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));  // the standard CRC-32C check value
        using var dir = new TempDirectory();
        string path;
        using (var writer = new TensorBoardWriter(dir.Path))
        {
            writer.AddScalar("loss/train", 0.5f, 1);
            writer.AddScalar("f1/valid", 0.97f, 2);
            path = writer.Path;
        }
        var scalars = TensorBoardWriter.ReadScalars(path);
        Assert.Equal([(1L, "loss/train", 0.5f), (2L, "f1/valid", 0.97f)], scalars);
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 1;  // corrupt the last record's checksum
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => TensorBoardWriter.ReadScalars(path));
    }
}
