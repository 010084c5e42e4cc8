using System.CommandLine;
using System.Globalization;
using Ongko.Models;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Cli.Commands;

/// <summary><c>ongko summary --config FILE</c>: a Keras-style table of layers, output shapes and parameter counts.</summary>
public static class SummaryCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "YAML config whose model to describe (default: the built-in model3)" };
        var command = new Command("summary", "Print the model's layers, output shapes and parameter counts") { config };
        command.SetGuardedAction(parse =>
        {
            var trainConfig = DefaultConfigs.LoadOrDefault(parse.GetValue(config));
            Console.Write(Render(trainConfig));
            return 0;
        });
        return command;
    }

    public static string Render(TrainConfig config)
    {
        var model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(config.Seed));
        var rows = model.Layers.Select((layer, i) => (
            Name: $"{i,2}  {layer}",
            Shape: Tensor.ShapeString([-1, .. model.LayerOutputShapes[i]]).Replace("-1", "N"),
            Count: layer.Parameters.Sum(p => (long)p.Value.Length))).ToList();
        int nameWidth = Math.Max(24, rows.Max(r => r.Name.Length) + 2);
        int shapeWidth = Math.Max(18, rows.Max(r => r.Shape.Length) + 2);
        var text = new System.Text.StringBuilder();
        string rule(char c) => new string(c, nameWidth + shapeWidth + 14) + "\n";
        text.Append($"Model from {config.SourcePath}, input {Tensor.ShapeString([-1, .. config.SampleShape]).Replace("-1", "N")}\n");
        text.Append(rule('_'));
        text.Append($"{"Layer",-24}".PadRight(nameWidth) + "Output shape".PadRight(shapeWidth) + "Param #".PadLeft(14) + "\n");
        text.Append(rule('='));
        foreach (var row in rows)
            text.Append(row.Name.PadRight(nameWidth) + row.Shape.PadRight(shapeWidth) + Thousands(row.Count).PadLeft(14) + "\n");
        text.Append(rule('='));
        text.Append($"Total params: {Thousands(model.ParameterCount)}\n");
        text.Append($"Trainable params: {Thousands(model.ParameterCount)}\n");
        text.Append($"Parameter memory: {model.ParameterCount * 4 / 1024.0 / 1024.0:F2} MB (float32)\n");
        return text.ToString();
    }

    public static string Thousands(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}
