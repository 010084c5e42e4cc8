using System.Globalization;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Torch;

/// <summary>
/// OneCycleSchedule against torch.optim.lr_scheduler.OneCycleLR (cos, two phases) on SGD with momentum, and
/// CosineSchedule against SequentialLR(LinearLR, CosineAnnealingLR) (or CosineAnnealingLR alone without warm-up):
/// the fixtures hold param_groups[0]['lr'] (and 'momentum') read before each of the total_steps optimizer steps,
/// so element t is the value for step t (t optimizer steps taken before it).
/// </summary>
/// <remarks>
/// Tolerance: every value is a closed-form expression evaluated once (no reduction), so each element is held
/// to 1e-6 of itself. TensorAssert's rms term would let the smallest learning rates (one-cycle ends at
/// max_lr/div/final_div = 4e-7, below rms·1e-5) through unchecked. Expected error: the fixture's float32
/// rounding (3e-8) plus the float32 arguments (0.1f vs 0.1: 1.5e-9; 0.3f moves the phase boundary by 4e-8).
/// </remarks>
public class ScheduleTorchTests
{
    const double Relative = 1e-6;

    public static TheoryData<string> OneCycleCases => TorchFixture.Cases("schedule_onecycle_");
    public static TheoryData<string> CosineCases => TorchFixture.Cases("schedule_cosine_");

    [Theory]
    [MemberData(nameof(OneCycleCases))]
    public void OneCycleMatchesPyTorch(string name)
    {
        var f = TorchFixture.Load(name);
        bool cycleMomentum = f.MetaBool("cycle_momentum", true);
        var schedule = new OneCycleSchedule(Float(f, "max_lr"), long.Parse(f.Meta("total_steps"), CultureInfo.InvariantCulture),
            Float(f, "pct_start"), Float(f, "div_factor"), Float(f, "final_div_factor"), cycleMomentum,
            Float(f, "base_momentum"), Float(f, "max_momentum"));
        AssertSequence($"{name} lr", f["lr"], step => schedule.LearningRate(step));
        if (cycleMomentum) AssertSequence($"{name} momentum", f["momentum"], step => schedule.Momentum(step) ?? float.NaN);
        else for (int step = 0; step < f["lr"].Length; step++) Assert.Null(schedule.Momentum(step));
    }

    [Theory]
    [MemberData(nameof(CosineCases))]
    public void CosineMatchesPyTorch(string name)
    {
        var f = TorchFixture.Load(name);
        var schedule = new CosineSchedule(Float(f, "base_lr"), long.Parse(f.Meta("total_steps"), CultureInfo.InvariantCulture),
            long.Parse(f.Meta("warmup_steps"), CultureInfo.InvariantCulture), Float(f, "warmup_start_factor"), Float(f, "min_lr"));
        AssertSequence($"{name} lr", f["lr"], step => schedule.LearningRate(step));
        for (int step = 0; step < f["lr"].Length; step++) Assert.Null(schedule.Momentum(step));
    }

    static float Float(TorchFixture f, string key) => float.Parse(f.Meta(key), CultureInfo.InvariantCulture);

    static void AssertSequence(string name, Tensor expected, Func<long, float> actual)
    {
        var e = expected.Span;
        Assert.Equal(1, expected.Rank);
        for (int step = 0; step < e.Length; step++)
        {
            double value = actual(step), error = Math.Abs(value - e[step]);
            if (!(error <= Relative * Math.Abs(e[step]) + 1e-12))
                Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: step {step} of {e.Length} is {value:R}, expected {e[step]:R} (relative error {error / Math.Abs(e[step]):G3}, allowed {Relative:G3})"));
        }
    }
}
