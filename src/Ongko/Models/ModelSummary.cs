using System.Globalization;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>A Keras-style table of a built model: each layer, its output shape and parameter count, and the totals.</summary>
public static class ModelSummary
{
    /// <param name="model">A built model.</param>
    /// <param name="source">Where it comes from, for the first line ("Model from ...").</param>
    public static string Render(Sequential model, string source)
    {
        var rows = model.Layers.Select((layer, i) => (
            Name: $"{i,2}  {layer}",
            Shape: Tensor.ShapeString([-1, .. model.LayerOutputShapes[i]]).Replace("-1", "N"),
            Count: layer.Parameters.Sum(p => (long)p.Value.Length))).ToList();
        int nameWidth = Math.Max(24, rows.Max(r => r.Name.Length) + 2);
        int shapeWidth = Math.Max(18, rows.Max(r => r.Shape.Length) + 2);
        var text = new System.Text.StringBuilder();
        string rule(char c) => new string(c, nameWidth + shapeWidth + 14) + "\n";
        text.Append($"Model from {source}, input {Tensor.ShapeString([-1, .. model.InputShape]).Replace("-1", "N")}\n");
        text.Append(rule('_'));
        text.Append($"{"Layer",-24}".PadRight(nameWidth) + "Output shape".PadRight(shapeWidth) + "Param #".PadLeft(14) + "\n");
        text.Append(rule('='));
        foreach (var row in rows)
            text.Append(row.Name.PadRight(nameWidth) + row.Shape.PadRight(shapeWidth) + Thousands(row.Count).PadLeft(14) + "\n");
        text.Append(rule('='));
        text.Append($"Total params: {Thousands(model.ParameterCount)}\n");
        text.Append($"Trainable params: {Thousands(model.ParameterCount)}\n");
        text.Append(string.Create(CultureInfo.InvariantCulture, $"Parameter memory: {model.ParameterCount * 4 / 1024.0 / 1024.0:F2} MB (float32)\n"));
        return text.ToString();
    }

    /// <summary>1,724,938: digits grouped by commas, whatever the culture.</summary>
    public static string Thousands(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}
