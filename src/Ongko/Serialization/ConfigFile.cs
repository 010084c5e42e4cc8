using System.Globalization;
using Ongko.Data;
using Ongko.Models;
using Ongko.Training;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Ongko.Serialization;

/// <summary>A config file that cannot be used; the message names the file, the line and the problem.</summary>
public sealed class ConfigException : OngkoInputException
{
    /// <summary>A message that already names the file (and line).</summary>
    public ConfigException(string message) : base(message) { }
    /// <summary>A problem at <paramref name="line"/> of <paramref name="filePath"/>.</summary>
    public ConfigException(string problem, string filePath, int? line) : base(problem, filePath, line) { }
}

/// <summary>
/// Reads a training config. Every key is checked: a misspelt key is an error that suggests the
/// right one, and the model rows are validated (layer names, argument counts, sizes) before any work.
/// </summary>
public static class ConfigFile
{
    /// <summary>Keys of the reference that Ongko accepts and ignores, with a notice.</summary>
    public static readonly string[] IgnoredReferenceKeys = ["use_wandb", "wandb", "notebook", "name", "comment", "exp"];

    public static TrainConfig Load(string path)
    {
        string text = InputFiles.ReadAllText(path, InputKind.Config, message => new ConfigException($"cannot read config: {message}", path, null));
        return Parse(text, path);
    }

    public static TrainConfig Parse(string text, string path)
    {
        var stream = new YamlStream();
        try { CheckNesting(text, path); stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new ConfigException($"{path}: line {e.Start.Line}, column {e.Start.Column}: not valid YAML: {e.InnerException?.Message ?? e.Message}"); }
        catch (InvalidOperationException e) { throw new ConfigException($"{path}: not valid YAML: {e.Message}"); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException($"{path}: expected a mapping of keys (epochs: ..., model: ...) at the top level");

        var config = new TrainConfig { SourcePath = path, SourceText = text };
        var reader = new ConfigReader(path);
        ReadMapping(reader, root.Children, "", config);
        if (config.Model.Count == 0) throw new ConfigException($"{path}: no 'model:' list of layers");
        // The model's first Conv2D decides the channel count the images are decoded to.
        config.Augment.Channels = config.InputChannels;
        if (config.Augment.Channels is not (1 or 3))
            throw new ConfigException($"{path}: the first layer takes {config.Augment.Channels} input channels; images can be read as 1 (grey) or 3 (RGB)");
        // Refuse, with the numbers, a model this machine cannot hold, before building it allocates anything.
        var size = ModelSize.Estimate(config.Model, config.SampleShape);
        if ((size.Problem(config.TrainBatch, training: true) ?? size.Problem(config.ValidBatch, training: false)) is { } tooLarge)
            throw new ConfigException($"{path}: {tooLarge}");
        // Build the layers once here so that every row error surfaces before data loading starts.
        try { LayerFactory.Create(config.Model, path).Build(config.SampleShape, new Tensors.Rng(0)); }
        catch (ModelSpecException e) { throw new ConfigException(e.Message); }
        catch (Exception e) when (e is Layers.ShapeException or ArgumentException)
        { throw new ConfigException($"{path}: the model does not fit input {Tensors.Tensor.ShapeString(config.SampleShape)}: {e.Message}"); }
        return config;
    }

    /// <summary>Reads the keys of one mapping (the top level or a section) through their declarations in <see cref="ConfigKeys"/>.</summary>
    internal static void ReadMapping(ConfigReader reader, IEnumerable<KeyValuePair<YamlNode, YamlNode>> mapping, string section, TrainConfig config)
    {
        foreach (var (keyNode, value) in mapping)
        {
            string name = (section.Length > 0 ? section + "." : "") + reader.Key(keyNode);
            if (ConfigKeys.Find(name) is { } key) key.Read(reader, value, config);
            else if (ConfigKeys.Sections.Contains(name)) ReadSection(reader, value, name, config);
            else throw reader.UnknownKey(keyNode, name, ConfigKeys.NamesIn(section));
        }
    }

    static void ReadSection(ConfigReader reader, YamlNode node, string section, TrainConfig config)
    {
        if (section == "lr_schedule")
        {
            // A single word (plateau, none) or name: plateau keeps the plateau rule.
            if (node is YamlScalarNode { Value: var word } && (word is null || word.ToLowerInvariant() is "plateau" or "none" or "" or "null" or "~"))
            { config.Schedule = null; return; }
            config.Schedule = new StepScheduleConfig();
            ReadMapping(reader, reader.Mapping(node, section), section, config);
            if (config.Schedule.Name == "plateau") config.Schedule = null;
            return;
        }
        ReadMapping(reader, reader.Mapping(node, section), section, config);
    }

    /// <summary>Deepest nesting of lists and mappings a config may have (the model rows need 3).</summary>
    public const int MaxNesting = 32;

    /// <summary>
    /// Walks the YAML events (an iterative parser) and refuses nesting beyond <see cref="MaxNesting"/> before the
    /// node tree is built: building it recurses once per level, and a few kilobytes of brackets would overflow the stack.
    /// </summary>
    static void CheckNesting(string text, string path)
    {
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        while (parser.MoveNext())
        {
            if (parser.Current is SequenceStart or MappingStart && ++depth > MaxNesting)
                throw new ConfigException($"{path}: line {parser.Current.Start.Line}: lists and mappings nested more than {MaxNesting} deep");
            if (parser.Current is SequenceEnd or MappingEnd) depth--;
        }
    }

    /// <summary>The resolved config (defaults and command-line overrides applied) as YAML that <see cref="Parse"/> reads back.</summary>
    public static string ToYaml(TrainConfig config)
    {
        var text = new System.Text.StringBuilder($"# Resolved config written by Ongko (from {config.SourcePath})\n");
        string? open = null;
        foreach (var key in ConfigKeys.All)
        {
            if (key.Write(config) is not { } value) continue;
            if (key.Section != open && key.Section.Length > 0) text.Append(key.Section).Append(":\n");
            open = key.Section;
            text.Append(key.Section.Length > 0 ? "  " : "").Append(key.Leaf).Append(':').Append(value.StartsWith('\n') ? "" : " ").Append(value).Append('\n');
        }
        return text.ToString();
    }

    static readonly string[] AffineKeys = ["degrees", "translate", "scale", "shear"];

    /// <summary>
    /// <c>affine: {degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}</c> with torchvision RandomAffine's forms:
    /// degrees d or [min, max]; translate t or [tx, ty] (fractions of the size); scale s or [min, max];
    /// shear s (x in ±s), [min, max] (x) or [xmin, xmax, ymin, ymax]. <c>affine: off</c> (false, null, ~) turns it off.
    /// </summary>
    internal static AffineOptions? ReadAffine(ConfigReader reader, YamlNode node)
    {
        if (node is YamlScalarNode { Value: var off } && (off is null || off.ToLowerInvariant() is "" or "~" or "null" or "none" or "false" or "off" or "no"))
            return null;
        if (node is not YamlMappingNode)
            throw reader.Error(node, "augment.affine must be a mapping like {degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}, or off");

        double Number(YamlNode child, string key)
        {
            string text = reader.Scalar(child, key);
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw reader.Error(child, $"'{key}' must be a number, got '{text}'");
            return value;
        }
        double[] Numbers(YamlNode child, string key, string forms, params int[] counts)
        {
            double[] values = child is YamlSequenceNode sequence ? sequence.Children.Select(c => Number(c, key)).ToArray() : [Number(child, key)];
            if (!counts.Contains(values.Length)) throw reader.Error(child, $"'{key}' must be {forms}, got {values.Length} values");
            return values;
        }
        void Range(YamlNode child, string key, double min, double max)
        {
            if (min > max) throw reader.Error(child, $"'{key}' range [{min}, {max}] has min > max");
        }

        var options = new AffineOptions();
        foreach (var (keyNode, value) in reader.Mapping(node, "augment.affine"))
        {
            string key = reader.Key(keyNode), name = "augment.affine." + key;
            switch (key)
            {
                case "degrees":
                {
                    var v = Numbers(value, name, "a number d (angle in ±d) or [min, max]", 1, 2);
                    if (v.Length == 1 && v[0] < 0) throw reader.Error(value, $"'{name}' must be >= 0 (the angle is drawn from ±degrees), got {v[0]}");
                    var (min, max) = v.Length == 1 ? (-v[0], v[0]) : (v[0], v[1]);
                    Range(value, name, min, max);
                    options = options with { DegreesMin = min, DegreesMax = max };
                    break;
                }
                case "translate":
                {
                    var v = Numbers(value, name, "a fraction t (both axes) or [tx, ty]", 1, 2);
                    if (v.Any(t => t is < 0 or > 1)) throw reader.Error(value, $"'{name}' is a fraction of the image size and must be between 0 and 1, got {string.Join(", ", v)}");
                    options = options with { TranslateX = v[0], TranslateY = v[^1] };
                    break;
                }
                case "scale":
                {
                    var v = Numbers(value, name, "a number or [min, max]", 1, 2);
                    if (v.Any(t => t <= 0)) throw reader.Error(value, $"'{name}' must be > 0, got {string.Join(", ", v)}");
                    Range(value, name, v[0], v[^1]);
                    options = options with { ScaleMin = v[0], ScaleMax = v[^1] };
                    break;
                }
                case "shear":
                {
                    var v = Numbers(value, name, "a number s (x shear in ±s), [min, max] (x) or [xmin, xmax, ymin, ymax]", 1, 2, 4);
                    if (v.Length == 1 && v[0] < 0) throw reader.Error(value, $"'{name}' must be >= 0 (the x shear is drawn from ±shear), got {v[0]}");
                    var (xMin, xMax) = v.Length == 1 ? (-v[0], v[0]) : (v[0], v[1]);
                    var (yMin, yMax) = v.Length == 4 ? (v[2], v[3]) : (0.0, 0.0);
                    Range(value, name + " (x)", xMin, xMax);
                    Range(value, name + " (y)", yMin, yMax);
                    if (new[] { xMin, xMax, yMin, yMax }.Any(t => Math.Abs(t) >= 90))
                        throw reader.Error(value, $"'{name}' must stay strictly between -90 and 90 degrees, got {string.Join(", ", v)}");
                    options = options with { ShearXMin = xMin, ShearXMax = xMax, ShearYMin = yMin, ShearYMax = yMax };
                    break;
                }
                default: throw reader.UnknownKey(keyNode, name, AffineKeys.Select(k => "augment.affine." + k).ToArray());
            }
        }
        try { options.Validate(); }
        catch (ArgumentException e) { throw reader.Error(node, "augment.affine: " + e.Message); }
        return options;
    }

}

/// <summary>Typed reads of YAML nodes with errors that carry the file and line.</summary>
internal sealed class ConfigReader(string path)
{
    public ConfigException Error(YamlNode node, string message) => new(message, path, (int)node.Start.Line);

    public string Key(YamlNode node) => node is YamlScalarNode { Value: { } key } ? key : throw Error(node, "keys must be plain names");

    public ConfigException UnknownKey(YamlNode node, string key, string[] known)
    {
        string? best = known.OrderBy(k => Distance(k, key)).FirstOrDefault();
        bool close = best is not null && Distance(best, key) <= Math.Max(2, key.Length / 3);
        return Error(node, $"unknown key '{key}'" + (close ? $"; did you mean '{best}'?" : $"; known keys: {string.Join(", ", known)}"));
    }

    public IEnumerable<KeyValuePair<YamlNode, YamlNode>> Mapping(YamlNode node, string key) =>
        node is YamlMappingNode mapping ? mapping.Children : throw Error(node, $"'{key}' must be a mapping of keys");

    public string Scalar(YamlNode node, string key) =>
        node is YamlScalarNode { Value: { } value } ? value : throw Error(node, $"'{key}' must be a single value");

    public string String(YamlNode node, string key) => Scalar(node, key);

    /// <summary>One of <paramref name="choices"/> (case-insensitive), returned in lower case.</summary>
    public string Choice(YamlNode node, string key, params string[] choices)
    {
        string value = Scalar(node, key).ToLowerInvariant();
        return choices.Contains(value) ? value
            : throw Error(node, $"{key} must be {string.Join(", ", choices[..^1])} or {choices[^1]}, got '{value}'");
    }

    /// <summary>A value or none: empty, ~, null, None, or a plain <c>false</c> (the reference writes <c>gt_csv: false</c>).</summary>
    public string? OptionalString(YamlNode node) =>
        node is YamlScalarNode { Value: { } value } scalar && value is not ("" or "~" or "null" or "None")
        && !(scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && value is "false" or "False" or "FALSE") ? value : null;

    public int Int(YamlNode node, string key, int minimum, int maximum = int.MaxValue)
    {
        string text = Scalar(node, key);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            throw Error(node, $"'{key}' must be a whole number, got '{text}'");
        if (value < minimum) throw Error(node, $"'{key}' must be >= {minimum}, got {value}");
        if (value > maximum) throw Error(node, $"'{key}' must be <= {maximum}, got {value}");
        return value;
    }

    public float Float(YamlNode node, string key, float minimum)
    {
        string text = Scalar(node, key);
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
            throw Error(node, $"'{key}' must be a number, got '{text}'");
        if (value < minimum) throw Error(node, $"'{key}' must be >= {minimum}, got {value}");
        return value;
    }

    public float Probability(YamlNode node, string key)
    {
        float value = Float(node, key, 0);
        if (value > 1) throw Error(node, $"'{key}' is a probability and must be between 0 and 1, got {value}");
        return value;
    }

    public bool Bool(YamlNode node, string key) => Scalar(node, key).ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        var other => throw Error(node, $"'{key}' must be true or false, got '{other}'"),
    };

    public int[] Ints(YamlNode node, string key, int minimum) => node is YamlSequenceNode sequence
        ? sequence.Children.Select(child => Int(child, key, minimum)).ToArray()
        : [Int(node, key, minimum)];

    public float[] Floats(YamlNode node, string key) => node is YamlSequenceNode sequence
        ? sequence.Children.Select(child => Float(child, key, 0)).ToArray()
        : [Float(node, key, 0)];

    public List<string> Strings(YamlNode node, string key) => node is YamlSequenceNode sequence
        ? sequence.Children.Select(child => Scalar(child, key)).ToList()
        : [Scalar(node, key)];

    /// <summary>Rows like <c>[Conv2D, [3, 16, 3, 1, 1]]</c>, <c>[ReLU, []]</c>, <c>[ReLU]</c> or just <c>ReLU</c>.</summary>
    public List<LayerSpec> ModelRows(YamlNode node)
    {
        if (node is not YamlSequenceNode rows) throw Error(node, "'model' must be a list of [Layer, [arguments]] rows");
        var specs = new List<LayerSpec>();
        int index = 0;
        foreach (var row in rows.Children)
        {
            index++;
            int line = (int)row.Start.Line;
            string where = $"model row {index}";
            switch (row)
            {
                case YamlScalarNode { Value: { } name }:
                    specs.Add(new LayerSpec(name, [], index, line));
                    break;
                case YamlSequenceNode sequence when sequence.Children.Count is 1 or 2 && sequence.Children[0] is YamlScalarNode { Value: { } kind }:
                    var arguments = new List<string>();
                    if (sequence.Children.Count == 2)
                    {
                        if (sequence.Children[1] is YamlSequenceNode args)
                            foreach (var arg in args.Children) arguments.Add(Scalar(arg, where + " argument"));
                        else arguments.Add(Scalar(sequence.Children[1], where + " argument"));
                    }
                    specs.Add(new LayerSpec(kind, arguments, index, line));
                    break;
                default:
                    throw Error(row, $"{where}: expected [LayerName, [arguments]], e.g. [Conv2D, [3, 16, 3, 1, 1]]");
            }
        }
        foreach (var spec in specs)
        {
            try { LayerFactory.Create(spec, path); }
            catch (ModelSpecException e) { throw new ConfigException(e.Message); }
            catch (ArgumentException e) { throw new ConfigException($"{path}: model row {spec.Row} (line {spec.Line}) {spec}: {e.Message}"); }
        }
        return specs;
    }

    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
