using Ongko.Layers;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Serialization;

public class CheckpointTests
{
    static Sequential Small(int hidden, ulong seed) =>
        new Sequential([new Conv2D(1, 2, 3, 1, 1), new ReLU(), new Flatten(), new Linear(hidden), new Softmax()]).Build([1, 4, 4], new Rng(seed));

    [Fact]
    public void SavesAndRestoresWeightsMomentumAndState()
    {
        using var dir = new TempDirectory();
        var model = Small(5, 1);
        var optimizer = new Sgd(model.Parameters, 0.1f, momentum: 0.9f);
        var x = TestData.RandomTensor(new Rng(2), 3, 1, 4, 4);
        TrainingStep.Run(model, new CrossEntropyLoss(), optimizer, x, [0, 1, 2]);
        Checkpoint.Save(dir.File("m.safetensors"), model, new Dictionary<string, string> { ["epoch"] = "3" }, optimizer);

        var content = Checkpoint.Read(dir.File("m.safetensors"));
        Assert.Equal("3", content.Metadata["epoch"]);
        var restored = Checkpoint.LoadModel(dir.File("m.safetensors"), content);
        Assert.Equal(model.Forward(x, false).Span.ToArray(), restored.Forward(x, false).Span.ToArray());

        var other = new Sgd(restored.Parameters, 0.1f, momentum: 0.9f);
        Checkpoint.LoadWeights("m", content, restored, other);
        var saved = optimizer.State.ToList();
        var loaded = other.State.ToList();
        Assert.Equal(saved.Count, loaded.Count);
        Assert.NotEmpty(saved);
        for (int i = 0; i < saved.Count; i++)
        {
            Assert.Equal((saved[i].Kind, saved[i].Index), (loaded[i].Kind, loaded[i].Index));
            Assert.Equal(saved[i].Value.Span.ToArray(), loaded[i].Value.Span.ToArray());
        }
        Assert.Equal(optimizer.StepCount, other.StepCount);
    }

    [Fact]
    public void NamesEveryMismatchWhenTheModelDiffers()
    {
        using var dir = new TempDirectory();
        Checkpoint.Save(dir.File("m.safetensors"), Small(5, 1));
        var content = Checkpoint.Read(dir.File("m.safetensors"));
        var different = Small(7, 1);
        var before = different.Parameters.First().Value.Span.ToArray();
        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.LoadWeights(dir.File("m.safetensors"), content, different));
        Assert.Contains("'layers.3.weight' has shape [5, 32], the model needs [7, 32]", ex.Message);
        Assert.Contains("'layers.3.bias' has shape [5]", ex.Message);
        Assert.Equal(before, different.Parameters.First().Value.Span.ToArray());  // untouched on failure
    }

    [Fact]
    public void RejectsSafetensorsThatAreNotOngkoCheckpoints()
    {
        using var dir = new TempDirectory();
        Safetensors.Write(dir.File("plain.safetensors"), [new("x", new Tensor(2))]);
        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.Read(dir.File("plain.safetensors")));
        Assert.Contains("not an Ongko checkpoint", ex.Message);
    }
}
