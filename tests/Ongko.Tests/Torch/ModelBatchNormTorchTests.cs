using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>
/// Conv BatchNorm2D ReLU Dropout2D(0) MaxPool Flatten Linear BatchNorm1D ReLU Dropout(0) Linear against nn.Sequential
/// (fixture model_batchnorm): parameter and buffer names as in PyTorch's state_dict, a training step's logits, loss
/// and gradients, the running statistics it leaves, then eval-mode logits with those statistics.
/// </summary>
public class ModelBatchNormTorchTests
{
    static Sequential BuildModel(TorchFixture f)
    {
        var model = new Sequential([new Conv2D(3, 4, 3, 1, 1), new BatchNorm2D(4), new ReLU(), new Dropout2D(0), new MaxPool2D(2, 2),
                                    new Flatten(), new Linear(16), new BatchNorm1D(16), new ReLU(), new Dropout(0), new Linear(10)]);
        model.Build(f["input"].ShapeArray[1..], new Rng(1));
        return model;
    }

    [Fact]
    public void NamesMatchTheStateDict()
    {
        var f = TorchFixture.Load("model_batchnorm");
        var model = BuildModel(f);
        // PyTorch's state_dict, in its order: per module, parameters then buffers (running_mean, running_var
        // and the num_batches_tracked counter, which Ongko stores as a 0-d float so strict loading finds it).
        string[] stateDict = f.Meta("state_dict_keys").Split(',');
        static bool IsBuffer(string k) => k.EndsWith("running_mean") || k.EndsWith("running_var") || k.EndsWith("num_batches_tracked");
        string[] expectedParameters = stateDict.Where(k => !IsBuffer(k)).ToArray();
        string[] expectedBuffers = stateDict.Where(IsBuffer).ToArray();
        Assert.Equal(expectedParameters, model.NamedParameters.Select(p => p.Name).ToArray());
        Assert.Equal(expectedBuffers, model.NamedBuffers.Select(b => b.Name).ToArray());
        foreach (var (name, value) in model.NamedBuffers)
            Assert.True(f.Has(name) || name.EndsWith("num_batches_tracked"), $"fixture has no buffer {name}");
    }

    [Fact]
    public void TrainStepThenEvalMatchPyTorch()
    {
        var f = TorchFixture.Load("model_batchnorm");
        var model = BuildModel(f);
        foreach (var (name, parameter) in model.NamedParameters) f.CopyInto(name, parameter.Value);
        foreach (var (name, buffer) in model.NamedBuffers) if (f.Has(name)) f.CopyInto(name, buffer);

        // The longest chain: the conv's weight gradient sums N·H·W = 256 products of values that already carry
        // the Linear (64), both BatchNorms' (M = 256 and 4) and the conv's (27) reductions; K = 512 covers it.
        const int K = 512;
        var loss = new CrossEntropyLoss();
        var logits = model.Forward(f["input"], training: true);
        TensorAssert.Close("model_batchnorm logits", f["logits"], logits, K);
        float value = loss.Forward(logits, f.Labels("labels"));
        TensorAssert.Close("model_batchnorm loss", f["loss"], new Tensor([value], 1), K);
        TensorAssert.Close("model_batchnorm grad_input", f["grad_input"], model.Backward(loss.Backward()), K);
        foreach (var (name, parameter) in model.NamedParameters)
        {
            if (name is "layers.0.bias" or "layers.6.bias") continue;
            TensorAssert.Close($"model_batchnorm grad_{name}", f["grad_" + name], parameter.Gradient, K);
        }
        // The conv's and the Linear's biases feed a train-mode BatchNorm, which subtracts the batch mean: a
        // constant shift changes nothing, so their exact gradient is 0 (the fixture holds float64 noise, 1e-16).
        // The engine's float32 sums leave noise of about u·√M times the gradient reaching the BatchNorm; hold it
        // to the same relative bound, scaled by that BatchNorm's bias gradient (Σδy per channel), instead of the
        // 1e-7 absolute floor. A backward that lost the mean term would give values of that gradient's size.
        AssertNearZero("grad_layers.0.bias", model.NamedParameters.Single(p => p.Name == "layers.0.bias").Parameter.Gradient, f["grad_layers.1.bias"], K);
        AssertNearZero("grad_layers.6.bias", model.NamedParameters.Single(p => p.Name == "layers.6.bias").Parameter.Gradient, f["grad_layers.7.bias"], K);
        foreach (var (name, buffer) in model.NamedBuffers)
            if (name.EndsWith("num_batches_tracked")) Assert.Equal(1f, buffer.Span[0]);   // one training forward so far
            else TensorAssert.Close($"model_batchnorm {name} after the step", f["after_" + name], buffer, K);

        // The trainer's path: the same batch again (batch statistics, so the same gradients; the running statistics
        // move a second time and are not compared), back-propagated without the input gradient.
        loss.Forward(model.Forward(f["input"], training: true), f.Labels("labels"));
        foreach (var (_, parameter) in model.NamedParameters) parameter.Gradient.Fill(float.NaN);
        model.BackwardParametersFromLogits(loss.Backward());
        foreach (var (name, parameter) in model.NamedParameters)
            if (name is not ("layers.0.bias" or "layers.6.bias"))
                TensorAssert.Close($"model_batchnorm (BackwardParametersFromLogits) grad_{name}", f["grad_" + name], parameter.Gradient, K);
        foreach (var (name, buffer) in model.NamedBuffers) if (f.Has("after_" + name)) f.CopyInto("after_" + name, buffer);

        // Eval: running statistics instead of batch statistics, Dropout the identity (p = 0 in both modes anyway).
        TensorAssert.Close("model_batchnorm eval_logits", f["eval_logits"], model.Forward(f["input"], training: false), K);
        Assert.True(TensorAssert.Compare("eval vs train logits", f["eval_logits"], f["logits"], K) is not null,
            "the fixture's eval logits equal its train logits: it cannot tell running from batch statistics");
    }

    static void AssertNearZero(string name, Tensor actual, Tensor scaleReference, int reductionLength)
    {
        double sumSquares = 0;
        foreach (float v in scaleReference.Span) sumSquares += (double)v * v;
        double allowed = Math.Sqrt(reductionLength) * TensorAssert.RelativePerSqrtK * Math.Sqrt(sumSquares / scaleReference.Length);
        foreach (float v in actual.Span)
            Assert.True(Math.Abs(v) <= allowed, $"model_batchnorm {name}: {v:R}, expected 0 within {allowed:G3} (a bias before a train-mode BatchNorm has no effect)");
    }
}
