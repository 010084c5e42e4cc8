using System.Text.Json;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Serialization;

/// <summary>
/// A model (and optionally its optimizer state) in a safetensors file. Weights are named as in
/// PyTorch ("layers.0.weight"), so the file opens in torch/numpy too; momentum buffers are stored as
/// "optimizer.velocity.layers.0.weight"; the architecture, input shape and the caller's training
/// state (epoch, learning rate, scheduler, config, ...) go in the header's __metadata__ as strings.
/// </summary>
public static class Checkpoint
{
    public const string Format = "ongko-checkpoint-1";
    const string VelocityPrefix = "optimizer.velocity.";

    public static void Save(string path, Sequential model, IReadOnlyDictionary<string, string>? state = null, Sgd? optimizer = null)
    {
        var tensors = model.NamedParameters.Select(p => KeyValuePair.Create(p.Name, p.Parameter.Value)).ToList();
        if (optimizer is not null)
        {
            var names = model.NamedParameters;
            for (int i = 0; i < optimizer.Velocities.Count; i++)
                if (optimizer.Velocities[i] is { } velocity)
                    tensors.Add(KeyValuePair.Create(VelocityPrefix + names[i].Name, velocity));
        }
        var metadata = new Dictionary<string, string>(state ?? new Dictionary<string, string>())
        {
            ["format"] = Format,
            ["model"] = JsonSerializer.Serialize(LayerFactory.Describe(model).Select(row => new[] { row.Kind }.Concat(row.Arguments).ToArray())),
            ["input_shape"] = string.Join(",", model.InputShape),
        };
        Safetensors.Write(path, tensors, metadata);
    }

    public static SafetensorsContent Read(string path)
    {
        var content = Safetensors.Read(path);
        if (!content.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new CheckpointException($"{path}: not an Ongko checkpoint (metadata 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{Format}')");
        return content;
    }

    /// <summary>Rebuilds the architecture recorded in the checkpoint, with its weights loaded.</summary>
    public static Sequential LoadModel(string path, SafetensorsContent content)
    {
        List<LayerSpec> rows;
        int[] inputShape;
        try
        {
            var raw = JsonSerializer.Deserialize<string[][]>(content.Metadata["model"])!;
            rows = raw.Select((row, i) => new LayerSpec(row[0], row[1..], i + 1, 0)).ToList();
            inputShape = content.Metadata["input_shape"].Split(',').Select(int.Parse).ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or IndexOutOfRangeException or NullReferenceException)
        { throw new CheckpointException($"{path}: the recorded model or input shape cannot be read ({e.Message})"); }
        Sequential model;
        try { model = LayerFactory.Create(rows, path).Build(inputShape, new Rng(0)); }
        catch (Exception e) when (e is ModelSpecException or ArgumentException or Layers.ShapeException)
        { throw new CheckpointException($"{path}: the recorded model cannot be built: {e.Message}"); }
        LoadWeights(path, content, model);
        return model;
    }

    /// <summary>Copies the weights into a built model, checking every name and shape first; nothing is changed on a mismatch.</summary>
    public static void LoadWeights(string path, SafetensorsContent content, Sequential model, Sgd? optimizer = null)
    {
        var problems = new List<string>();
        var expected = model.NamedParameters;
        foreach (var (name, parameter) in expected)
        {
            if (!content.Tensors.TryGetValue(name, out var tensor)) problems.Add($"missing tensor '{name}' {Tensor.ShapeString(parameter.Value.Shape)}");
            else if (!tensor.SameShape(parameter.Value))
                problems.Add($"'{name}' has shape {Tensor.ShapeString(tensor.Shape)}, the model needs {Tensor.ShapeString(parameter.Value.Shape)}");
        }
        var known = expected.Select(p => p.Name).ToHashSet();
        foreach (var name in content.Tensors.Keys)
            if (!known.Contains(name) && !(name.StartsWith(VelocityPrefix) && known.Contains(name[VelocityPrefix.Length..])))
                problems.Add($"unexpected tensor '{name}'");
        if (problems.Count > 0)
            throw new CheckpointException($"{path}: does not match the model ({problems.Count} problem(s)):\n  " + string.Join("\n  ", problems.Take(20)));

        foreach (var (name, parameter) in expected) content.Tensors[name].Span.CopyTo(parameter.Value.Span);
        if (optimizer is not null)
            for (int i = 0; i < expected.Count; i++)
                if (content.Tensors.TryGetValue(VelocityPrefix + expected[i].Name, out var velocity))
                    optimizer.SetVelocity(i, velocity.Clone());
    }
}
