using System.Globalization;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>
/// BatchNorm2D and BatchNorm1D against F.batch_norm (fixtures batchnorm_*): two training passes (batch statistics,
/// running statistics updated twice from random initial values, unbiased variance in the update), then an
/// evaluation pass with the running statistics, forward and backward (the eval gradient has no statistics path).
/// The 1D fixture uses a non-default momentum (0.2) and eps (1e-3).
/// </summary>
public class BatchNormTorchTests
{
    [Theory]
    [InlineData("batchnorm_2d_4x3x5x5")]
    [InlineData("batchnorm_1d_8x6")]
    [InlineData("batchnorm_2d_2x3x16x16_offset")]
    public void TrainTwiceThenEvalMatchPyTorch(string name)
    {
        var f = TorchFixture.Load(name);
        int channels = f.MetaInt("channels");
        float momentum = float.Parse(f.Meta("momentum"), CultureInfo.InvariantCulture);
        float epsilon = float.Parse(f.Meta("eps"), CultureInfo.InvariantCulture);
        int[] shape = f.Meta("input_shape").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        BatchNorm layer = shape.Length == 4 ? new BatchNorm2D(channels, momentum, epsilon) : new BatchNorm1D(channels, momentum, epsilon);
        layer.Build(shape[1..], new Rng(1));
        f.CopyInto("weight", layer.Weight.Value);
        f.CopyInto("bias", layer.Bias.Value);
        f.CopyInto("running_mean_initial", layer.RunningMean);
        f.CopyInto("running_var_initial", layer.RunningVariance);
        Assert.Equal(["running_mean", "running_var", "num_batches_tracked"], layer.Buffers.Select(b => b.Name).ToArray());

        // Training: every output, gradient and statistic is built from sums over the M = N·H·W values of a
        // channel (mean, variance, Σδy, Σδy·x̂), so K = M.
        int perChannel = shape[0] * (shape.Length == 4 ? shape[2] * shape[3] : 1);
        for (int pass = 1; pass <= 2; pass++)
        {
            string at = $"{name} train{pass}";
            var output = layer.Forward(f[$"train{pass}_input"], training: true);
            TensorAssert.Close($"{at} output", f[$"train{pass}_output"], output, perChannel);
            TensorAssert.Close($"{at} running_mean", f[$"train{pass}_running_mean"], layer.RunningMean, perChannel);
            TensorAssert.Close($"{at} running_var", f[$"train{pass}_running_var"], layer.RunningVariance, perChannel);
            TensorAssert.Close($"{at} grad_input", f[$"train{pass}_grad_input"], layer.Backward(f[$"train{pass}_grad_output"]), perChannel);
            TensorAssert.Close($"{at} grad_weight", f[$"train{pass}_grad_weight"], layer.Weight.Gradient, perChannel);
            TensorAssert.Close($"{at} grad_bias", f[$"train{pass}_grad_bias"], layer.Bias.Gradient, perChannel);
        }

        // Evaluation with the statistics the layer itself accumulated: they carry the training passes'
        // reduction error, so K = M here too.
        var chained = layer.Forward(f["eval_input"], training: false);
        TensorAssert.Close($"{name} eval (own running statistics) output", f["eval_output"], chained, perChannel);

        // Evaluation with the fixture's running statistics set exactly: each value is (x − μ)·γ/√(σ²+ε) + β,
        // a handful of roundings and no reduction; the gradients w.r.t. γ and β still sum over M.
        f.CopyInto("eval_running_mean", layer.RunningMean);
        f.CopyInto("eval_running_var", layer.RunningVariance);
        const int Elementwise = 4;
        TensorAssert.Close($"{name} eval output", f["eval_output"], layer.Forward(f["eval_input"], training: false), Elementwise);
        TensorAssert.Exact($"{name} eval leaves running_mean alone", f["eval_running_mean"], layer.RunningMean);
        TensorAssert.Exact($"{name} eval leaves running_var alone", f["eval_running_var"], layer.RunningVariance);
        TensorAssert.Close($"{name} eval grad_input", f["eval_grad_input"], layer.Backward(f["eval_grad_output"]), Elementwise);
        TensorAssert.Close($"{name} eval grad_weight", f["eval_grad_weight"], layer.Weight.Gradient, perChannel);
        TensorAssert.Close($"{name} eval grad_bias", f["eval_grad_bias"], layer.Bias.Gradient, perChannel);
    }

    [Fact]
    public void TrainGradientIsNotTheEvalGradient()
    {
        // Guards the fixtures themselves: the train and eval gradients must differ by far more than the
        // tolerance, or the tests above could not tell a layer that ignores the mode.
        var f = TorchFixture.Load("batchnorm_2d_4x3x5x5");
        var layer = new BatchNorm2D(3);
        layer.Build([3, 5, 5], new Rng(1));
        f.CopyInto("weight", layer.Weight.Value);
        f.CopyInto("bias", layer.Bias.Value);
        f.CopyInto("eval_running_mean", layer.RunningMean);
        f.CopyInto("eval_running_var", layer.RunningVariance);
        layer.Forward(f["eval_input"], training: true);
        Assert.True(TensorAssert.Compare("train-mode gradient vs eval fixture", f["eval_grad_input"], layer.Backward(f["eval_grad_output"]), 100) is not null,
            "the train-mode gradient matches the eval fixture: the fixtures cannot tell the modes apart");
    }
}
