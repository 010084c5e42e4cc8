using System.Globalization;
using Ongko.Layers;

namespace Ongko.Models;

/// <summary>One row of a config's model list, e.g. <c>- [Conv2D, [3, 16, 3, 1, 1]]</c>, with where it came from.</summary>
public sealed record LayerSpec(string Kind, IReadOnlyList<string> Arguments, int Row, int Line)
{
    public override string ToString() => $"[{Kind}, [{string.Join(", ", Arguments)}]]";
}

/// <summary>A model description that cannot be built; the message names the row and what was expected.</summary>
public sealed class ModelSpecException(string message) : OngkoInputException(message);

/// <summary>Turns config rows into layers, checking names, argument counts and sizes before any work starts.</summary>
public static class LayerFactory
{
    /// <summary>Layer name → (argument signature shown in errors, minimum count, maximum count).</summary>
    public static readonly IReadOnlyDictionary<string, (string Signature, int Min, int Max)> Known =
        new Dictionary<string, (string, int, int)>(StringComparer.Ordinal)
        {
            ["Conv2D"] = ("in_channels, out_channels, kernel, stride=1, padding=0, bias=true", 3, 6),
            ["MaxPool2D"] = ("kernel, stride", 2, 2),
            ["Linear"] = ("out_features, bias=true", 1, 2),
            ["Flatten"] = ("", 0, 0),
            ["ReLU"] = ("", 0, 0),
            ["Softmax"] = ("", 0, 0),
            ["BatchNorm2D"] = ("channels", 1, 1),
            ["BatchNorm1D"] = ("features", 1, 1),
            ["Dropout"] = ("p", 1, 1),
            ["Dropout2D"] = ("p", 1, 1),
        };

    public static Sequential Create(IEnumerable<LayerSpec> rows, string source) =>
        new(rows.Select(row => Create(row, source)));

    public static Layer Create(LayerSpec row, string source)
    {
        string where = $"{source}: model row {row.Row} (line {row.Line}) {row}";
        if (!Known.TryGetValue(row.Kind, out var known))
        {
            var suggestion = Known.Keys.FirstOrDefault(k => string.Equals(k, row.Kind, StringComparison.OrdinalIgnoreCase));
            throw new ModelSpecException($"{where}: unknown layer '{row.Kind}'" +
                (suggestion is null ? $"; known layers: {string.Join(", ", Known.Keys)}" : $"; did you mean '{suggestion}'?"));
        }
        if (row.Arguments.Count < known.Min || row.Arguments.Count > known.Max)
        {
            string count = known.Min == known.Max ? $"{known.Min}" : $"{known.Min} to {known.Max}";
            throw new ModelSpecException($"{where}: {row.Kind} takes {count} argument(s) ({(known.Signature.Length == 0 ? "none" : known.Signature)}), got {row.Arguments.Count}");
        }
        int Size(int index, string name, int minimum)
        {
            if (!int.TryParse(row.Arguments[index], NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
                throw new ModelSpecException($"{where}: {name} must be a whole number, got '{row.Arguments[index]}'");
            if (value < minimum) throw new ModelSpecException($"{where}: {name} must be >= {minimum}, got {value}");
            return value;
        }
        float Probability(int index, string name)
        {
            if (!float.TryParse(row.Arguments[index], NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || value is < 0 or >= 1)
                throw new ModelSpecException($"{where}: {name} must be a number in [0, 1), got '{row.Arguments[index]}'");
            return value;
        }
        int Optional(int index, string name, int minimum, int fallback) => index < row.Arguments.Count ? Size(index, name, minimum) : fallback;
        bool Flag(int index, string name)
        {
            if (index >= row.Arguments.Count) return true;
            return row.Arguments[index].ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                var other => throw new ModelSpecException($"{where}: {name} must be true or false, got '{other}'"),
            };
        }
        return row.Kind switch
        {
            "Conv2D" => new Conv2D(Size(0, "in_channels", 1), Size(1, "out_channels", 1), Size(2, "kernel", 1),
                                   Optional(3, "stride", 1, 1), Optional(4, "padding", 0, 0), Flag(5, "bias")),
            "MaxPool2D" => new MaxPool2D(Size(0, "kernel", 1), Size(1, "stride", 1)),
            "Linear" => new Linear(Size(0, "out_features", 1), Flag(1, "bias")),
            "Flatten" => new Flatten(),
            "ReLU" => new ReLU(),
            "Softmax" => new Softmax(),
            "BatchNorm2D" => new BatchNorm2D(Size(0, "channels", 1)),
            "BatchNorm1D" => new BatchNorm1D(Size(0, "features", 1)),
            "Dropout" => new Dropout(Probability(0, "p")),
            "Dropout2D" => new Dropout2D(Probability(0, "p")),
            _ => throw new InvalidOperationException(row.Kind),
        };
    }

    /// <summary>The rows that would recreate these layers (stored in checkpoints).</summary>
    public static IReadOnlyList<LayerSpec> Describe(Sequential model) =>
        model.Layers.Select((layer, i) => new LayerSpec(layer.Kind,
            layer.Arguments.Length == 0 ? [] : layer.Arguments.Split(", "), i + 1, 0)).ToList();
}
