using System.Globalization;
using Ongko.Data;
using Ongko.Models;
using Ongko.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ongko.Serialization;

/// <summary>A config file that cannot be used; the message names the file, the line and the problem.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Reads a training config. Every key is checked: a misspelt key is an error that suggests the
/// right one, and the model rows are validated (layer names, argument counts, sizes) before any work.
/// </summary>
public static class ConfigFile
{
    /// <summary>Keys of the reference that Ongko accepts and ignores, with a notice.</summary>
    public static readonly string[] IgnoredReferenceKeys = ["wandb", "notebook", "name", "comment", "exp"];

    public static TrainConfig Load(string path)
    {
        string text = InputFiles.ReadAllText(path, InputKind.Config, message => new ConfigException($"{path}: cannot read config: {message}"));
        return Parse(text, path);
    }

    public static TrainConfig Parse(string text, string path)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new ConfigException($"{path}: line {e.Start.Line}, column {e.Start.Column}: not valid YAML: {e.InnerException?.Message ?? e.Message}"); }
        catch (InvalidOperationException e) { throw new ConfigException($"{path}: not valid YAML: {e.Message}"); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ConfigException($"{path}: expected a mapping of keys (epochs: ..., model: ...) at the top level");

        var config = new TrainConfig { SourcePath = path, SourceText = text };
        var reader = new Reader(path);
        foreach (var (keyNode, value) in root.Children)
        {
            string key = reader.Key(keyNode);
            switch (key)
            {
                case "epochs": config.Epochs = reader.Int(value, key, 1); break;
                case "num_class": config.NumClass = reader.Int(value, key, 2); break;
                case "data_dir": config.DataDir = reader.String(value, key); break;
                case "output_dir": config.OutputDir = reader.String(value, key); break;
                case "train_batch": config.TrainBatch = reader.Int(value, key, 1); break;
                case "valid_batch": config.ValidBatch = reader.Int(value, key, 1); break;
                case "lr": config.LearningRate = reader.Float(value, key, 0); break;
                case "debug": config.Debug = reader.Bool(value, key); break;
                case "checkpoint_path": config.CheckpointPath = reader.OptionalString(value); break;
                case "resume": config.Resume = reader.Bool(value, key); break;
                case "gt_csv": config.GtCsv = reader.OptionalString(value); break;
                case "seed": config.Seed = (ulong)reader.Int(value, key, 0); break;
                case "momentum": config.Momentum = reader.Float(value, key, 0); break;
                case "weight_decay": config.WeightDecay = reader.Float(value, key, 0); break;
                case "nesterov": config.Nesterov = reader.Bool(value, key); break;
                case "optimizer":
                    config.Optimizer = reader.String(value, key).ToLowerInvariant();
                    if (config.Optimizer is not ("sgd" or "adam" or "adamw")) throw reader.Error(value, $"optimizer must be sgd, adam or adamw, got '{config.Optimizer}'");
                    break;
                case "betas":
                    var betas = reader.Floats(value, key);
                    if (betas.Length != 2 || betas.Any(b => b is < 0 or >= 1)) throw reader.Error(value, "betas must be two numbers in [0, 1), e.g. [0.9, 0.999]");
                    config.Betas = betas;
                    break;
                case "eps":
                    config.Epsilon = reader.Float(value, key, 0);
                    if (config.Epsilon == 0) throw reader.Error(value, "eps must be > 0");
                    break;
                case "label_smoothing": config.LabelSmoothing = reader.Probability(value, key); break;
                case "lr_schedule": config.Schedule = ReadSchedule(reader, value); break;
                case "train_folders": config.TrainFolders = reader.Strings(value, key); break;
                case "valid_fraction": config.ValidationFraction = reader.Float(value, key, 0); break;
                case "model": config.Model = reader.ModelRows(value); break;
                case "augment": ReadAugment(reader, value, config.Augment); break;
                case "lr_scheduler": ReadScheduler(reader, value, config.LrScheduler); break;
                default:
                    if (IgnoredReferenceKeys.Contains(key)) { config.IgnoredKeys.Add(key); break; }
                    throw reader.UnknownKey(keyNode, key, TopLevelKeys);
            }
        }
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

    /// <summary>The resolved config (defaults and command-line overrides applied) as YAML that <see cref="Parse"/> reads back.</summary>
    public static string ToYaml(TrainConfig c)
    {
        var inv = CultureInfo.InvariantCulture;
        string F(float value) => value.ToString("R", inv);
        string B(bool value) => value ? "true" : "false";
        string Q(string value) => "'" + value.Replace("'", "''") + "'";
        var a = c.Augment;
        var text = new System.Text.StringBuilder();
        text.Append($"# Resolved config written by Ongko (from {c.SourcePath})\n");
        text.Append($"epochs: {c.Epochs}\nnum_class: {c.NumClass}\ndata_dir: {Q(c.DataDir)}\noutput_dir: {Q(c.OutputDir)}\n");
        text.Append($"train_batch: {c.TrainBatch}\nvalid_batch: {c.ValidBatch}\nlr: {F(c.LearningRate)}\ndebug: {B(c.Debug)}\n");
        text.Append($"seed: {c.Seed}\nmomentum: {F(c.Momentum)}\nweight_decay: {F(c.WeightDecay)}\nnesterov: {B(c.Nesterov)}\n");
        text.Append($"optimizer: {c.Optimizer}\nbetas: [{F(c.Betas[0])}, {F(c.Betas[1])}]\neps: {F(c.Epsilon)}\nlabel_smoothing: {F(c.LabelSmoothing)}\n");
        if (c.Schedule is { } s)
            text.Append($"lr_schedule: {{name: {s.Name}, {(s.MaxLearningRate is { } max ? $"max_lr: {F(max)}, " : "")}pct_start: {F(s.PctStart)}, " +
                        $"div_factor: {F(s.DivFactor)}, final_div_factor: {F(s.FinalDivFactor)}, cycle_momentum: {B(s.CycleMomentum)}, " +
                        $"base_momentum: {F(s.BaseMomentum)}, max_momentum: {F(s.MaxMomentum)}, warmup_epochs: {F(s.WarmupEpochs)}, " +
                        $"warmup_start_factor: {F(s.WarmupStartFactor)}, min_lr: {F(s.MinLearningRate)}}}\n");
        text.Append($"train_folders: [{string.Join(", ", c.TrainFolders.Select(Q))}]\nvalid_fraction: {F(c.ValidationFraction)}\n");
        if (c.CheckpointPath is not null) text.Append($"checkpoint_path: {Q(c.CheckpointPath)}\n");
        if (c.GtCsv is not null) text.Append($"gt_csv: {Q(c.GtCsv)}\n");
        text.Append("model:\n");
        foreach (var row in c.Model) text.Append($"  - [{row.Kind}, [{string.Join(", ", row.Arguments)}]]\n");
        text.Append("augment:\n");
        text.Append($"  img_shape: [{a.Height}, {a.Width}]\n  channels: {a.Channels}\n  use_bbox: {B(a.UseBoundingBox)}\n");
        text.Append($"  reverse: {a.Reverse switch { ReverseMode.On => "true", ReverseMode.Off => "false", _ => "auto" }}\n");
        text.Append($"  aug: {B(a.Augment)}\n  dilation: {B(a.Dilation)}\n  opening: {B(a.Opening)}\n");
        text.Append($"  mixup: {a.Mixup.ToString("R", inv)}\n  contour_cutout_prob: {a.ContourCutoutProbability.ToString("R", inv)}\n");
        text.Append($"  contour_cutout_number: {a.ContourCutoutNumber}\n  cache: {B(a.Cache)}\n  on_bad_image: {a.OnBadImage.ToString().ToLowerInvariant()}\n");
        if (a.Affine is { } f)
        {
            string D(double value) => value.ToString("R", inv);
            text.Append($"  affine: {{degrees: [{D(f.DegreesMin)}, {D(f.DegreesMax)}], translate: [{D(f.TranslateX)}, {D(f.TranslateY)}], ");
            text.Append($"scale: [{D(f.ScaleMin)}, {D(f.ScaleMax)}], shear: [{D(f.ShearXMin)}, {D(f.ShearXMax)}, {D(f.ShearYMin)}, {D(f.ShearYMax)}]}}\n");
            text.Append($"  affine_prob: {D(a.AffineProbability)}\n");
        }
        var l = c.LrScheduler;
        text.Append($"lr_scheduler:\n  factor: {F(l.Factor)}\n  patience: {l.Patience}\n  threshold: {F(l.Threshold)}\n  min_lr: {F(l.MinLearningRate)}\n");
        return text.ToString();
    }

    static readonly string[] TopLevelKeys =
    [
        "epochs", "num_class", "data_dir", "output_dir", "train_batch", "valid_batch", "lr", "debug", "model",
        "checkpoint_path", "resume", "gt_csv", "augment", "lr_scheduler", "seed", "momentum", "weight_decay",
        "nesterov", "train_folders", "valid_fraction", "optimizer", "betas", "eps", "label_smoothing", "lr_schedule",
    ];
    static readonly string[] ScheduleKeys =
    [
        "name", "max_lr", "pct_start", "div_factor", "final_div_factor", "cycle_momentum", "base_momentum", "max_momentum",
        "warmup_epochs", "warmup_start_factor", "min_lr",
    ];

    static StepScheduleConfig? ReadSchedule(Reader reader, YamlNode node)
    {
        if (node is YamlScalarNode { Value: "plateau" or "none" or "" or "null" }) return null;
        var schedule = new StepScheduleConfig();
        foreach (var (keyNode, value) in reader.Mapping(node, "lr_schedule"))
        {
            string key = reader.Key(keyNode), full = "lr_schedule." + key;
            switch (key)
            {
                case "name":
                    schedule.Name = reader.String(value, full).ToLowerInvariant();
                    if (schedule.Name == "plateau") return null;
                    if (schedule.Name is not ("onecycle" or "cosine")) throw reader.Error(value, $"lr_schedule.name must be onecycle, cosine or plateau, got '{schedule.Name}'");
                    break;
                case "max_lr": schedule.MaxLearningRate = reader.Float(value, full, 0); break;
                case "pct_start":
                    schedule.PctStart = reader.Probability(value, full);
                    if (schedule.PctStart is 0 or 1) throw reader.Error(value, "lr_schedule.pct_start must be strictly between 0 and 1");
                    break;
                case "div_factor": schedule.DivFactor = reader.Float(value, full, 1); break;
                case "final_div_factor": schedule.FinalDivFactor = reader.Float(value, full, 1); break;
                case "cycle_momentum": schedule.CycleMomentum = reader.Bool(value, full); break;
                case "base_momentum": schedule.BaseMomentum = reader.Probability(value, full); break;
                case "max_momentum": schedule.MaxMomentum = reader.Probability(value, full); break;
                case "warmup_epochs": schedule.WarmupEpochs = reader.Float(value, full, 0); break;
                case "warmup_start_factor": schedule.WarmupStartFactor = reader.Probability(value, full); break;
                case "min_lr": schedule.MinLearningRate = reader.Float(value, full, 0); break;
                default: throw reader.UnknownKey(keyNode, full, ScheduleKeys.Select(k => "lr_schedule." + k).ToArray());
            }
        }
        return schedule;
    }
    static readonly string[] AugmentKeys =
    [
        "img_shape", "channels", "use_bbox", "reverse", "aug", "dilation", "opening", "mixup",
        "contour_cutout_prob", "contour_cutout_number", "cache", "on_bad_image", "affine", "affine_prob",
    ];
    static readonly string[] AffineKeys = ["degrees", "translate", "scale", "shear"];
    static readonly string[] SchedulerKeys = ["factor", "patience", "threshold", "min_lr"];

    static void ReadAugment(Reader reader, YamlNode node, AugmentOptions augment)
    {
        foreach (var (keyNode, value) in reader.Mapping(node, "augment"))
        {
            string key = reader.Key(keyNode);
            switch (key)
            {
                case "img_shape":
                    var shape = reader.Ints(value, "augment.img_shape", 1);
                    if (shape.Length is not (1 or 2)) throw reader.Error(value, "augment.img_shape must be [height, width]");
                    (augment.Height, augment.Width) = (shape[0], shape[^1]);
                    break;
                case "channels":
                    augment.Channels = reader.Int(value, "augment.channels", 1);
                    if (augment.Channels is not (1 or 3)) throw reader.Error(value, "augment.channels must be 1 or 3");
                    break;
                case "use_bbox": augment.UseBoundingBox = reader.Bool(value, key); break;
                case "reverse":
                    string reverse = reader.String(value, key).ToLowerInvariant();
                    augment.Reverse = reverse switch
                    {
                        "true" or "yes" or "on" => ReverseMode.On,
                        "false" or "no" or "off" => ReverseMode.Off,
                        "auto" => ReverseMode.Auto,
                        _ => throw reader.Error(value, $"augment.reverse must be true, false or auto, got '{reverse}'"),
                    };
                    break;
                case "aug": augment.Augment = reader.Bool(value, key); break;
                case "dilation": augment.Dilation = reader.Bool(value, key); break;
                case "opening": augment.Opening = reader.Bool(value, key); break;
                case "mixup": augment.Mixup = reader.Probability(value, "augment.mixup"); break;
                case "contour_cutout_prob": augment.ContourCutoutProbability = reader.Probability(value, "augment.contour_cutout_prob"); break;
                case "contour_cutout_number": augment.ContourCutoutNumber = reader.Int(value, "augment.contour_cutout_number", 1); break;
                case "cache": augment.Cache = reader.Bool(value, key); break;
                case "on_bad_image":
                    augment.OnBadImage = reader.String(value, key).ToLowerInvariant() switch
                    {
                        "skip" => BadImagePolicy.Skip,
                        "fail" => BadImagePolicy.Fail,
                        var other => throw reader.Error(value, $"augment.on_bad_image must be skip or fail, got '{other}'"),
                    };
                    break;
                case "affine": augment.Affine = ReadAffine(reader, value); break;
                case "affine_prob": augment.AffineProbability = reader.Probability(value, "augment.affine_prob"); break;
                default: throw reader.UnknownKey(keyNode, "augment." + key, AugmentKeys.Select(k => "augment." + k).ToArray());
            }
        }
    }

    /// <summary>
    /// <c>affine: {degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}</c> with torchvision RandomAffine's forms:
    /// degrees d or [min, max]; translate t or [tx, ty] (fractions of the size); scale s or [min, max];
    /// shear s (x in ±s), [min, max] (x) or [xmin, xmax, ymin, ymax]. <c>affine: off</c> (false, null, ~) turns it off.
    /// </summary>
    static AffineOptions? ReadAffine(Reader reader, YamlNode node)
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

    static void ReadScheduler(Reader reader, YamlNode node, SchedulerConfig scheduler)
    {
        foreach (var (keyNode, value) in reader.Mapping(node, "lr_scheduler"))
        {
            string key = reader.Key(keyNode);
            switch (key)
            {
                case "factor":
                    scheduler.Factor = reader.Float(value, "lr_scheduler.factor", 0);
                    if (scheduler.Factor >= 1) throw reader.Error(value, "lr_scheduler.factor must be below 1 (the learning rate is multiplied by it)");
                    break;
                case "patience": scheduler.Patience = reader.Int(value, "lr_scheduler.patience", 0); break;
                case "threshold": scheduler.Threshold = reader.Float(value, "lr_scheduler.threshold", 0); break;
                case "min_lr": scheduler.MinLearningRate = reader.Float(value, "lr_scheduler.min_lr", 0); break;
                default: throw reader.UnknownKey(keyNode, "lr_scheduler." + key, SchedulerKeys.Select(k => "lr_scheduler." + k).ToArray());
            }
        }
    }

    /// <summary>Typed reads of YAML nodes with errors that carry the file and line.</summary>
    sealed class Reader(string path)
    {
        public ConfigException Error(YamlNode node, string message) => new($"{path}: line {node.Start.Line}: {message}");

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

        public string? OptionalString(YamlNode node) =>
            node is YamlScalarNode { Value: { } value } && value is not ("" or "~" or "null" or "None") ? value : null;

        public int Int(YamlNode node, string key, int minimum)
        {
            string text = Scalar(node, key);
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
                throw Error(node, $"'{key}' must be a whole number, got '{text}'");
            if (value < minimum) throw Error(node, $"'{key}' must be >= {minimum}, got {value}");
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
}
