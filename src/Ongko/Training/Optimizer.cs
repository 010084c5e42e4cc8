using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Training;

/// <summary>
/// Updates parameters from their gradients. Each optimizer keeps named per-parameter state tensors
/// ("velocity", "exp_avg", ...) and a step count; checkpoints save both so a resumed run continues exactly.
/// </summary>
public abstract class Optimizer
{
    protected readonly Parameter[] parameters;
    readonly Dictionary<string, Tensor?[]> state = [];

    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        if (learningRate < 0) throw new ArgumentException("learning rate must be >= 0");
        this.parameters = parameters.ToArray();
        LearningRate = learningRate;
    }

    public IReadOnlyList<Parameter> Parameters => parameters;
    public float LearningRate { get; set; }
    /// <summary>Steps taken so far (Adam's bias correction depends on it).</summary>
    public long StepCount { get; set; }

    /// <summary>SGD's momentum or Adam's β1: the value a one-cycle schedule moves.</summary>
    public abstract float Momentum { get; set; }

    public void Step()
    {
        StepCount++;
        for (int i = 0; i < parameters.Length; i++)
            if (frozen is null || !frozen[i]) Update(i, parameters[i].Value.Span, parameters[i].Gradient.Span);
    }

    bool[]? frozen;

    /// <summary>
    /// The parameters <see cref="Step"/> leaves alone (fine-tuning's frozen layers: no weight decay, no momentum, their
    /// state untouched); an empty set updates all again.
    /// </summary>
    public void Freeze(IEnumerable<Parameter> parametersToSkip)
    {
        var skip = parametersToSkip.ToHashSet();
        frozen = skip.Count == 0 ? null : parameters.Select(skip.Contains).ToArray();
    }

    /// <summary>True when <see cref="Step"/> skips parameter <paramref name="index"/>.</summary>
    public bool IsFrozen(int index) => frozen?[index] ?? false;

    /// <summary>Applies one update to parameter <paramref name="index"/>.</summary>
    protected abstract void Update(int index, Span<float> θ, ReadOnlySpan<float> gradient);

    /// <summary>The state tensor <paramref name="kind"/> of a parameter, created zeroed on first use.</summary>
    protected Span<float> StateOf(string kind, int index, out bool created) => StateTensor(kind, index, out created).Span;

    /// <summary><see cref="StateOf"/> as the tensor (its array can be handed to the workers).</summary>
    protected Tensor StateTensor(string kind, int index, out bool created)
    {
        if (!state.TryGetValue(kind, out var tensors)) state[kind] = tensors = new Tensor?[parameters.Length];
        created = tensors[index] is null;
        tensors[index] ??= new Tensor(parameters[index].Value.ShapeArray);
        return tensors[index]!;
    }

    /// <summary>Every state tensor as (kind, parameter index, tensor), for checkpoints.</summary>
    public IEnumerable<(string Kind, int Index, Tensor Value)> State =>
        state.SelectMany(pair => pair.Value.Select((tensor, index) => (pair.Key, index, tensor)))
             .Where(entry => entry.tensor is not null).Select(entry => (entry.Key, entry.index, entry.tensor!));

    public void SetState(string kind, int index, Tensor value)
    {
        if (!value.SameShape(parameters[index].Value))
            throw new ShapeException($"optimizer {kind} {index}: expected {Tensor.ShapeString(parameters[index].Value.Shape)}, got {Tensor.ShapeString(value.Shape)}");
        if (!state.TryGetValue(kind, out var tensors)) state[kind] = tensors = new Tensor?[parameters.Length];
        tensors[index] = value;
    }

    /// <summary>Builds the optimizer a config names: sgd (default), adam or adamw.</summary>
    public static Optimizer Create(TrainConfig config, IEnumerable<Parameter> parameters) => config.Optimizer switch
    {
        "sgd" => new Sgd(parameters, config.LearningRate, config.Momentum, config.WeightDecay, config.Nesterov),
        "adam" => new Adam(parameters, config.LearningRate, config.Betas[0], config.Betas[1], config.Epsilon, config.WeightDecay),
        "adamw" => new AdamW(parameters, config.LearningRate, config.Betas[0], config.Betas[1], config.Epsilon, config.WeightDecay),
        var other => throw new ArgumentException($"unknown optimizer '{other}' (sgd, adam, adamw)"),
    };
}
