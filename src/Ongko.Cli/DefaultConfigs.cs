using System.Reflection;
using Ongko.Serialization;
using Ongko.Training;

namespace Ongko.Cli;

/// <summary>The configs shipped inside the command, so it works before the user writes one.</summary>
public static class DefaultConfigs
{
    public const string Model3 = "numta-model3.yaml";

    public static TrainConfig Load(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("configs/" + name)
            ?? throw new InvalidOperationException($"embedded config {name} is missing");
        using var reader = new StreamReader(stream);
        return ConfigFile.Parse(reader.ReadToEnd(), $"(built-in {name})");
    }

    /// <summary>The config at <paramref name="path"/>, or the built-in model3 when none is given.</summary>
    public static TrainConfig LoadOrDefault(string? path) => path is null ? Load(Model3) : ConfigFile.Load(path);
}
