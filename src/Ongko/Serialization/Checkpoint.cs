using System.Globalization;
using System.Text.Json;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Serialization;

/// <summary>
/// A model (and optionally its optimizer state) in a safetensors file. Weights are named as in
/// PyTorch ("layers.0.weight"), so the file opens in torch/numpy too; momentum buffers are stored as
/// "optimizer.{velocity|exp_avg|exp_avg_sq}.layers.0.weight" and BatchNorm's running statistics as
/// "layers.1.running_mean"; the architecture, input shape and the caller's training
/// state (epoch, learning rate, scheduler, config, ...) go in the header's __metadata__ as strings.
/// </summary>
public static class Checkpoint
{
    public const string Format = "ongko-checkpoint-1";
    const string OptimizerPrefix = "optimizer.";
    /// <summary>Largest input height, width or channel count a checkpoint may record.</summary>
    public const int MaxInputSide = 8192;

    /// <summary>JSON settings of the metadata values (enums by name, infinities allowed).</summary>
    internal static readonly JsonSerializerOptions MetadataJson = new()
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Writes the model (weights, buffers, layer states, architecture, input shape), the optimizer's state when given,
    /// and <paramref name="state"/>'s strings. Every checkpoint carries its preprocessing and class count, so any
    /// checkpoint can be used for prediction: <paramref name="preprocessing"/>, else the state's, else
    /// <see cref="DefaultPreprocessing"/> (images used as given, resized to the model's input).
    /// </summary>
    public static void Save(string path, Sequential model, IReadOnlyDictionary<string, string>? state = null, Optimizer? optimizer = null,
                            Data.AugmentOptions? preprocessing = null)
    {
        var tensors = model.NamedParameters.Select(p => KeyValuePair.Create(p.Name, p.Parameter.Value)).ToList();
        tensors.AddRange(model.NamedBuffers.Select(b => KeyValuePair.Create(b.Name, b.Value)));
        var metadata = new Dictionary<string, string>(state ?? new Dictionary<string, string>())
        {
            ["format"] = Format,
            ["model"] = JsonSerializer.Serialize(LayerFactory.Describe(model).Select(row => new[] { row.Kind }.Concat(row.Arguments).ToArray())),
            ["input_shape"] = string.Join(",", model.InputShape),
        };
        if (preprocessing is not null || !metadata.ContainsKey("preprocessing"))
            metadata["preprocessing"] = JsonSerializer.Serialize(preprocessing ?? DefaultPreprocessing(model), MetadataJson);
        if (model.OutputShape[^1] >= 2) metadata.TryAdd("num_class", model.OutputShape[^1].ToString(CultureInfo.InvariantCulture));
        var layerStates = model.Layers.Select((layer, i) => (i, state: layer.SaveState())).Where(x => x.state is not null)
                                      .ToDictionary(x => x.i.ToString(CultureInfo.InvariantCulture), x => x.state!);
        if (layerStates.Count > 0) metadata["layer_states"] = JsonSerializer.Serialize(layerStates);
        if (optimizer is not null)
        {
            var names = model.NamedParameters;
            foreach (var (kind, index, value) in optimizer.State)
                tensors.Add(KeyValuePair.Create($"{OptimizerPrefix}{kind}.{names[index].Name}", value));
            metadata["optimizer_steps"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        }
        Safetensors.Write(path, tensors, metadata);
    }

    /// <summary>The preprocessing of a model trained on ready arrays: images used as given (no inversion or crop), resized to its input.</summary>
    public static Data.AugmentOptions DefaultPreprocessing(Sequential model) => new()
    {
        Channels = model.InputShape[0], Height = model.InputShape[^2], Width = model.InputShape[^1],
        Reverse = Data.ReverseMode.Off, UseBoundingBox = false, Cache = false,
    };

    public static SafetensorsContent Read(string path)
    {
        var content = Safetensors.Read(path);
        if (!content.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new CheckpointException($"{path}: not an Ongko checkpoint (metadata 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{Format}')");
        return content;
    }

    /// <summary>
    /// A checkpoint's model (architecture and weights, metadata validated) and the preprocessing its images need: the one it
    /// records, else <see cref="DefaultPreprocessing"/>. The content is returned for callers that read more of it.
    /// </summary>
    public static (Sequential Model, Data.AugmentOptions Preprocessing, SafetensorsContent Content) LoadModelAndPreprocessing(string path)
    {
        var content = Read(path);
        CheckpointMetadata.Validate(content.Metadata, path);
        var model = LoadModel(path, content);
        return (model, TrainingCheckpoint.ReadPreprocessing(content.Metadata, path) ?? DefaultPreprocessing(model), content);
    }

    /// <summary>Rebuilds the architecture recorded in the checkpoint, with its weights loaded.</summary>
    public static Sequential LoadModel(string path, SafetensorsContent content)
    {
        List<LayerSpec> rows;
        int[] inputShape;
        try
        {
            var raw = JsonSerializer.Deserialize<string[][]>(content.Metadata["model"]);
            if (raw is null || raw.Length == 0 || raw.Any(row => row is null || row.Length == 0 || row.Any(cell => cell is null)))
                throw new FormatException("expected a list of [layer, arguments...] rows of strings");
            rows = raw.Select((row, i) => new LayerSpec(row[0], row[1..], i + 1, 0)).ToList();
            inputShape = content.Metadata["input_shape"].Split(',').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or OverflowException or NotSupportedException)
        { throw new CheckpointException($"{path}: the recorded model or input shape cannot be read ({e.Message})"); }
        if (inputShape.Length is not (1 or 3) || inputShape.Any(d => d is < 1 or > MaxInputSide))
            throw new CheckpointException($"{path}: the recorded input shape {Tensor.ShapeString(inputShape)} is not a sample shape (channels, height, width of 1..{MaxInputSide})");
        // The recorded architecture must be paid for by the file: its parameters are in it, so a few bytes of
        // metadata cannot make the reader allocate gigabytes.
        var size = ModelSize.Estimate(rows, inputShape);
        double stored = content.Tensors.Values.Sum(t => (double)t.Length);
        if (size.Parameters + size.Buffers > stored)
            throw new CheckpointException($"{path}: the recorded model has {size.Parameters + size.Buffers:N0} weights but the file holds only {stored:N0} values");
        if (size.Problem(1, training: false) is { } tooLarge) throw new CheckpointException($"{path}: {tooLarge}");
        Sequential model;
        try { model = LayerFactory.Create(rows, path).Build(inputShape, new Rng(0)); }
        catch (Exception e) when (e is ModelSpecException or ArgumentException or Layers.ShapeException)
        { throw new CheckpointException($"{path}: the recorded model cannot be built: {e.Message}"); }
        LoadWeights(path, content, model);
        return model;
    }

    /// <summary>
    /// Copies weights, buffers (running statistics) and layer states into a built model — and, when given,
    /// the optimizer's state — checking every name and shape first; nothing is changed on a mismatch.
    /// </summary>
    public static void LoadWeights(string path, SafetensorsContent content, Sequential model, Optimizer? optimizer = null)
    {
        var problems = new List<string>();
        var expected = model.NamedParameters.Select(p => (p.Name, Value: p.Parameter.Value)).Concat(model.NamedBuffers).ToList();
        foreach (var (name, value) in expected)
        {
            if (!content.Tensors.TryGetValue(name, out var tensor)) problems.Add($"missing tensor '{name}' {Tensor.ShapeString(value.Shape)}");
            else if (!tensor.SameShape(value))
                problems.Add($"'{name}' has shape {Tensor.ShapeString(tensor.Shape)}, the model needs {Tensor.ShapeString(value.Shape)}");
        }
        var parameterIndex = model.NamedParameters.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var known = expected.Select(p => p.Name).ToHashSet();
        var optimizerState = new List<(string Kind, int Index, Tensor Value)>();
        foreach (var (name, tensor) in content.Tensors)
        {
            if (known.Contains(name)) continue;
            if (name.StartsWith(OptimizerPrefix) && name.IndexOf('.', OptimizerPrefix.Length) is int dot and > 0
                && parameterIndex.TryGetValue(name[(dot + 1)..], out int index))
            {
                string kind = name[OptimizerPrefix.Length..dot];
                var parameter = model.NamedParameters[index].Parameter.Value;
                if (!OptimizerStateKinds.Contains(kind)) problems.Add($"unknown optimizer state '{name}'");
                else if (!tensor.SameShape(parameter))
                    problems.Add($"'{name}' has shape {Tensor.ShapeString(tensor.Shape)}, its parameter has {Tensor.ShapeString(parameter.Shape)}");
                else optimizerState.Add((kind, index, tensor));
                continue;
            }
            problems.Add($"unexpected tensor '{name}'");
        }
        foreach (var (name, _) in expected)
            if (content.Tensors.TryGetValue(name, out var tensor) && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(tensor.Span))
                problems.Add($"'{name}' holds NaN or infinite values (written by a run that diverged?)");
        var states = ReadLayerStates(content, model, problems);
        long steps = 0;
        if (optimizer is not null && content.Metadata.TryGetValue("optimizer_steps", out var stepsText)
            && (!long.TryParse(stepsText, NumberStyles.Integer, CultureInfo.InvariantCulture, out steps) || steps < 0))
            problems.Add($"metadata 'optimizer_steps' is '{stepsText}', not a step count");
        if (problems.Count > 0)
            throw new CheckpointException($"{path}: does not match the model ({problems.Count} problem(s)): " + string.Join("; ", problems.Take(20)) +
                                          (problems.Count > 20 ? "; ..." : ""));

        foreach (var (name, value) in expected) content.Tensors[name].Span.CopyTo(value.Span);
        foreach (var (i, state) in states) model.Layers[i].LoadState(state);
        if (optimizer is null) return;
        foreach (var (kind, index, value) in optimizerState) optimizer.SetState(kind, index, value.Clone());
        if (content.Metadata.ContainsKey("optimizer_steps")) optimizer.StepCount = steps;
    }

    /// <summary>
    /// Fine-tuning's start (<c>init_from</c>, <c>--init-from</c>): loads every tensor of the safetensors file at
    /// <paramref name="path"/> whose name and shape match into the built <paramref name="model"/>, the first convolution
    /// converted between 1 and 3 input channels (<see cref="WeightTransfer"/>). Any safetensors file with Ongko's names
    /// works (a checkpoint, a weights-only copy); its optimizer state and training state are not used.
    /// </summary>
    public static TransferReport InitializeFrom(string path, Sequential model) => InitializeFrom(path, model, out _);

    /// <param name="preprocessing">the preprocessing the file records (null when it records none or it cannot be read)</param>
    public static TransferReport InitializeFrom(string path, Sequential model, out Data.AugmentOptions? preprocessing)
    {
        var content = Safetensors.Read(path);
        TransferReport report;
        try { report = WeightTransfer.Apply(model, content.Tensors); }
        catch (OngkoInputException e) when (e is not CheckpointException) { throw new CheckpointException(e.Message, path); }
        preprocessing = null;
        if (content.Metadata.TryGetValue("preprocessing", out var text))
            try { preprocessing = JsonSerializer.Deserialize<Data.AugmentOptions>(text, MetadataJson); }
            catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException) { }
        return report;
    }

    static readonly string[] OptimizerStateKinds = ["velocity", "exp_avg", "exp_avg_sq"];

    /// <summary>The metadata's layer_states (layer index → generator state), each checked; problems are added to the list.</summary>
    static List<(int Layer, string State)> ReadLayerStates(SafetensorsContent content, Sequential model, List<string> problems)
    {
        var result = new List<(int, string)>();
        if (!content.Metadata.TryGetValue("layer_states", out var json)) return result;
        Dictionary<string, string>? states;
        try { states = JsonSerializer.Deserialize<Dictionary<string, string>>(json); }
        catch (JsonException e) { problems.Add($"metadata 'layer_states' cannot be read ({e.Message})"); return result; }
        foreach (var (key, state) in states ?? [])
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= model.Layers.Count || model.Layers[i].SaveState() is null)
                problems.Add($"metadata 'layer_states' names layer '{key}', which has no state");
            else if (state is null || !Rng.IsValidState(state))
                problems.Add($"metadata 'layer_states': the generator state of layer {i} is not 64 hex digits of a valid state");
            else result.Add((i, state));
        }
        return result;
    }
}
