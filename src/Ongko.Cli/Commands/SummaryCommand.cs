using System.CommandLine;
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

    public static string Render(TrainConfig config) =>
        ModelSummary.Render(LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(config.Seed)), config.SourcePath);

    public static string Thousands(long value) => ModelSummary.Thousands(value);
}
