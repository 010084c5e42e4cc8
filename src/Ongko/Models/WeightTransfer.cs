using Ongko.Layers;
using Ongko.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Ongko.Models;

/// <summary>What happened to one tensor when a model was initialised from another model's tensors.</summary>
public enum TransferOutcome
{
    /// <summary>Same name and shape: copied.</summary>
    Loaded,
    /// <summary>The first convolution's [out, 1, k, k] kernel repeated over 3 input channels and scaled by 1/3.</summary>
    ExpandedToThreeChannels,
    /// <summary>The first convolution's [out, 3, k, k] kernel summed over its input channels.</summary>
    SummedToOneChannel,
    /// <summary>A checkpoint tensor whose model namesake has another shape: not used.</summary>
    SkippedShape,
    /// <summary>A checkpoint tensor the model has no namesake for: not used.</summary>
    SkippedNotInModel,
    /// <summary>A model tensor that nothing was loaded into: it keeps its fresh initialisation.</summary>
    Reinitialised,
}

/// <summary>One line of a <see cref="TransferReport"/>: a tensor, its shape in the checkpoint and in the model (null where absent).</summary>
public sealed record TransferEntry(string Name, TransferOutcome Outcome, int[]? CheckpointShape, int[]? ModelShape)
{
    public override string ToString() => Outcome switch
    {
        TransferOutcome.Loaded => $"loaded          {Name} {Tensor.ShapeString(ModelShape)}",
        TransferOutcome.ExpandedToThreeChannels => $"loaded          {Name} {Tensor.ShapeString(CheckpointShape)} -> {Tensor.ShapeString(ModelShape)} " +
                                                   "(first convolution, 1 -> 3 input channels: the grey kernel repeated over R, G, B and scaled by 1/3)",
        TransferOutcome.SummedToOneChannel => $"loaded          {Name} {Tensor.ShapeString(CheckpointShape)} -> {Tensor.ShapeString(ModelShape)} " +
                                              "(first convolution, 3 -> 1 input channel: the kernel summed over its input channels)",
        TransferOutcome.SkippedShape => $"skipped         {Name}: shape {Tensor.ShapeString(CheckpointShape)} in the checkpoint vs {Tensor.ShapeString(ModelShape)} in the model",
        TransferOutcome.SkippedNotInModel => $"skipped         {Name} {Tensor.ShapeString(CheckpointShape)}: not in the model",
        _ => $"re-initialised  {Name} {Tensor.ShapeString(ModelShape)}" + (CheckpointShape is null ? " (not in the checkpoint)" : " (shape differs)"),
    };
}

/// <summary>What <see cref="WeightTransfer.Apply"/> did, tensor by tensor (model order, then the checkpoint's unused tensors).</summary>
public sealed class TransferReport(IReadOnlyList<TransferEntry> entries, int optimizerTensors)
{
    public IReadOnlyList<TransferEntry> Entries { get; } = entries;
    /// <summary>Tensors copied into the model (the 1 &lt;-&gt; 3 channel conversions included).</summary>
    public IReadOnlyList<TransferEntry> Loaded => Entries.Where(e => e.Outcome is TransferOutcome.Loaded or TransferOutcome.ExpandedToThreeChannels
                                                                                    or TransferOutcome.SummedToOneChannel).ToList();
    /// <summary>Checkpoint tensors not used (shape differs, or no namesake in the model).</summary>
    public IReadOnlyList<TransferEntry> Skipped => Entries.Where(e => e.Outcome is TransferOutcome.SkippedShape or TransferOutcome.SkippedNotInModel).ToList();
    /// <summary>Model tensors left as freshly initialised.</summary>
    public IReadOnlyList<TransferEntry> Reinitialised => Entries.Where(e => e.Outcome == TransferOutcome.Reinitialised).ToList();
    /// <summary>The checkpoint's optimizer state tensors ("optimizer.*"), which a new run does not use.</summary>
    public int OptimizerTensors { get; } = optimizerTensors;

    /// <summary>One line per tensor and a closing count, for the console.</summary>
    public IEnumerable<string> Lines()
    {
        foreach (var entry in Entries) yield return entry.ToString();
        int modelTensors = Loaded.Count + Reinitialised.Count;
        yield return $"{Loaded.Count} of {modelTensors} model tensor(s) loaded, {Skipped.Count} checkpoint tensor(s) skipped, " +
                     $"{Reinitialised.Count} re-initialised" + (OptimizerTensors > 0 ? $"; the checkpoint's optimizer state ({OptimizerTensors} tensor(s)) is not used" : "");
    }
}

/// <summary>
/// Fine-tuning's first step: initialise a built model from another model's tensors (a checkpoint's), loading every
/// parameter and buffer (BatchNorm's running statistics) whose name ("layers.{i}.weight") and shape match. The first
/// convolution may change its input channels: a grey (1-channel) kernel becomes an RGB one by repeating it over the
/// 3 input channels scaled by 1/3 — so a grey image replicated to R, G, B gives exactly the grey model's output — and an
/// RGB kernel becomes a grey one by summing over its input channels (the same output on a grey image replicated to RGB).
/// Nothing else is reshaped. Layer states (Dropout's generator) are not transferred: the new run's seed draws them.
/// </summary>
public static class WeightTransfer
{
    /// <summary>The name prefix of optimizer state in checkpoints; such tensors are counted, not transferred.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>
    /// Copies the matching tensors into <paramref name="model"/> and reports every tensor's fate. Throws
    /// <see cref="OngkoInputException"/> (and changes nothing) when no tensor matches, or a tensor to be loaded holds
    /// NaN or infinite values.
    /// </summary>
    /// <param name="model">A built model (<see cref="Sequential.Build"/>).</param>
    /// <param name="tensors">Name -> tensor, e.g. a checkpoint's.</param>
    public static TransferReport Apply(Sequential model, IReadOnlyDictionary<string, Tensor> tensors)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built (Sequential.Build) before loading weights into it");
        var targets = model.NamedParameters.Select(p => (p.Name, Value: p.Parameter.Value)).Concat(model.NamedBuffers).ToList();
        string? firstConvolution = FirstConvolutionWeight(model);
        var entries = new List<TransferEntry>();
        var copies = new List<(Tensor Source, Tensor Target, TransferOutcome How)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, target) in targets)
        {
            if (!tensors.TryGetValue(name, out var source))
            {
                entries.Add(new TransferEntry(name, TransferOutcome.Reinitialised, null, target.ShapeArray));
                continue;
            }
            used.Add(name);
            var how = source.SameShape(target) ? TransferOutcome.Loaded
                : name == firstConvolution ? ChannelConversion(source.Shape, target.Shape) : null;
            if (how is { } outcome)
            {
                if (!TensorPrimitives.IsFiniteAll<float>(source.Span))
                    throw new OngkoInputException($"'{name}' holds NaN or infinite values (written by a run that diverged?); nothing was loaded");
                copies.Add((source, target, outcome));
                entries.Add(new TransferEntry(name, outcome, source.ShapeArray, target.ShapeArray));
            }
            else
            {
                entries.Add(new TransferEntry(name, TransferOutcome.SkippedShape, source.ShapeArray, target.ShapeArray));
                entries.Add(new TransferEntry(name, TransferOutcome.Reinitialised, source.ShapeArray, target.ShapeArray));
            }
        }
        int optimizerTensors = 0;
        foreach (var (name, source) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (used.Contains(name)) continue;
            if (name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) { optimizerTensors++; continue; }
            entries.Add(new TransferEntry(name, TransferOutcome.SkippedNotInModel, source.ShapeArray, null));
        }
        if (copies.Count == 0)
        {
            var examples = entries.Where(e => e.Outcome is TransferOutcome.SkippedShape or TransferOutcome.SkippedNotInModel).Take(3).Select(e => e.ToString()[16..]);
            throw new OngkoInputException($"no tensor matches the model by name and shape ({tensors.Count - optimizerTensors} tensor(s) in the checkpoint, " +
                                          $"{targets.Count} in the model" + (examples.Any() ? $"; e.g. {string.Join("; ", examples)}" : "") +
                                          "): is it a checkpoint of another architecture?");
        }
        foreach (var (source, target, how) in copies)
        {
            switch (how)
            {
                case TransferOutcome.ExpandedToThreeChannels: GreyToRgb(source.Span, target.Span, target[0], target[2] * target[3]); break;
                case TransferOutcome.SummedToOneChannel: RgbToGrey(source.Span, target.Span, target[0], target[2] * target[3]); break;
                default: source.Span.CopyTo(target.Span); break;
            }
        }
        return new TransferReport(entries, optimizerTensors);
    }

    /// <summary>"layers.{i}.weight" of the model's first Conv2D, or null when it has none.</summary>
    static string? FirstConvolutionWeight(Sequential model)
    {
        for (int i = 0; i < model.Layers.Count; i++)
            if (model.Layers[i] is Conv2D) return $"layers.{i}.weight";
        return null;
    }

    /// <summary>1 -> 3 or 3 -> 1 input channels of a [out, in, kh, kw] kernel, all else equal; null for any other difference.</summary>
    static TransferOutcome? ChannelConversion(ReadOnlySpan<int> from, ReadOnlySpan<int> to)
    {
        if (from.Length != 4 || to.Length != 4 || from[0] != to[0] || from[2] != to[2] || from[3] != to[3]) return null;
        return (from[1], to[1]) switch { (1, 3) => TransferOutcome.ExpandedToThreeChannels, (3, 1) => TransferOutcome.SummedToOneChannel, _ => null };
    }

    /// <summary>grey [out, 1, kh·kw] -> rgb [out, 3, kh·kw]: each input channel gets the grey kernel / 3.</summary>
    public static void GreyToRgb(ReadOnlySpan<float> grey, Span<float> rgb, int outChannels, int kernelArea)
    {
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < 3; c++)
                TensorPrimitives.Multiply(grey.Slice(o * kernelArea, kernelArea), 1f / 3, rgb.Slice((o * 3 + c) * kernelArea, kernelArea));
    }

    /// <summary>rgb [out, 3, kh·kw] -> grey [out, 1, kh·kw]: the sum over the input channels.</summary>
    public static void RgbToGrey(ReadOnlySpan<float> rgb, Span<float> grey, int outChannels, int kernelArea)
    {
        for (int o = 0; o < outChannels; o++)
        {
            var row = grey.Slice(o * kernelArea, kernelArea);
            rgb.Slice(o * 3 * kernelArea, kernelArea).CopyTo(row);
            for (int c = 1; c < 3; c++) TensorPrimitives.Add(row, rgb.Slice((o * 3 + c) * kernelArea, kernelArea), row);
        }
    }
}
