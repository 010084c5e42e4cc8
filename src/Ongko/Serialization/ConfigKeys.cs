using System.Globalization;
using System.Text;
using Ongko.Data;
using Ongko.Training;
using YamlDotNet.RepresentationModel;

namespace Ongko.Serialization;

/// <summary>
/// One config key, declared once: its dotted name (<c>augment.img_shape</c>), the type and help shown in the
/// README's key table, how it is read from YAML (with validation) and how it is written back (<see cref="ConfigFile.ToYaml"/>).
/// The default shown in the table is what <see cref="Write"/> gives for <c>new TrainConfig()</c>.
/// </summary>
public sealed class ConfigKey
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required string Help { get; init; }
    /// <summary>A key of the reference config (its meaning is kept).</summary>
    public bool Reference { get; init; }
    /// <summary>The default as shown in the table, when the written default would mislead (e.g. derived values).</summary>
    public string? DefaultText { get; init; }
    internal Action<ConfigReader, YamlNode, TrainConfig> Read { get; init; } = (_, _, _) => { };
    /// <summary>The value as YAML text (a block value starts with a newline), or null to leave the key out.</summary>
    internal Func<TrainConfig, string?> Write { get; init; } = _ => null;
    /// <summary>For the keys of a <c>sources:</c> entry: the value for one entry, or null to leave it out.</summary>
    internal Func<DataSource, string?>? WriteSource { get; init; }

    /// <summary>The section part of the name ("augment" for "augment.img_shape"), or "" for a top-level key.</summary>
    public string Section => Name.Contains('.') ? Name[..Name.LastIndexOf('.')] : "";
    /// <summary>The name within its section.</summary>
    public string Leaf => Name[(Name.LastIndexOf('.') + 1)..];
    public string Default => DefaultText ?? Write(new TrainConfig())?.Trim().Replace("'", "") ?? "(none)";
}

/// <summary>Every key a training config may hold, in the order <see cref="ConfigFile.ToYaml"/> writes them.</summary>
public static class ConfigKeys
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    static string F(float value) => value.ToString("R", Inv);
    static string D(double value) => value.ToString("R", Inv);
    static string B(bool value) => value ? "true" : "false";
    static string Q(string value) => "'" + value.Replace("'", "''") + "'";

    /// <summary>Sections that hold keys (<c>augment:</c>, ...) and may be omitted; <c>lr_schedule</c> may also be a single word.</summary>
    public static readonly string[] Sections = ["augment", "lr_scheduler", "lr_schedule"];

    /// <summary>All keys; sections are implied by the dotted names.</summary>
    public static readonly IReadOnlyList<ConfigKey> All =
    [
        Int("epochs", 1, c => c.Epochs, (c, v) => c.Epochs = v, "training epochs", reference: true),
        Int("num_class", 2, c => c.NumClass, (c, v) => c.NumClass = v, "number of classes; labels are 0..num_class-1", reference: true),
        new()
        {
            Name = "data_dir", Type = "folder", Reference = true,
            Help = "NumtaDB-layout folder (training-a/ and training-a.csv, ...) read when `sources` is not given; `--data-dir` overrides it",
            Read = (r, n, c) => c.DataDir = r.OptionalString(n), Write = c => c.DataDir is null ? null : Q(c.DataDir),
        },
        Str("output_dir", c => c.OutputDir, (c, v) => c.OutputDir = v, "where checkpoints, logs.csv, pictures and tensorboard/ go", reference: true),
        Int("train_batch", 1, c => c.TrainBatch, (c, v) => c.TrainBatch = v, "images per training step", reference: true),
        Int("valid_batch", 1, c => c.ValidBatch, (c, v) => c.ValidBatch = v, "images per validation batch", reference: true),
        Float("lr", 0, c => c.LearningRate, (c, v) => c.LearningRate = v, "learning rate (the start value for the plateau rule and cosine; onecycle's peak unless max_lr)", reference: true),
        Bool("debug", c => c.Debug, (c, v) => c.Debug = v, $"train on a small subset ({Trainer.DebugPerStratum} images per source and class)", reference: true),
        new()
        {
            Name = "model", Type = "list of [Layer, [arguments]]", Reference = true, DefaultText = "(required)",
            Help = "the layers, e.g. `- [Conv2D, [3, 16, 3, 1, 1]]`; see Configs above",
            Read = (r, n, c) => c.Model = r.ModelRows(n),
            Write = c => string.Concat(c.Model.Select(row => $"\n  - [{row.Kind}, [{string.Join(", ", row.Arguments)}]]")) is { Length: > 0 } rows ? rows : null,
        },
        OptionalStr("checkpoint_path", c => c.CheckpointPath, (c, v) => c.CheckpointPath = v, "checkpoint to continue from when `resume: true`", reference: true),
        new()
        {
            Name = "resume", Type = "true/false", Reference = true, Help = "continue from `checkpoint_path` (like `--resume`)",
            Read = (r, n, c) => c.Resume = r.Bool(n, "resume"), DefaultText = "false",
        },
        OptionalStr("gt_csv", c => c.GtCsv, (c, v) => c.GtCsv = v, "ground-truth CSV (filename, digit) for prediction; kept in the resolved config", reference: true),
        Int("seed", 0, c => (int)c.Seed, (c, v) => c.Seed = (ulong)v, "seeds the split, initial weights, shuffling and augmentation"),
        new()
        {
            Name = "split_seed", Type = "integer >= 0", DefaultText = "`seed`",
            Help = "seeds the train/validation split alone, so runs with different `seed`s (an ensemble's members) share one validation set",
            Read = (r, n, c) => c.SplitSeed = (ulong)r.Int(n, "split_seed", 0), Write = c => c.SplitSeed?.ToString(Inv),
        },
        new()
        {
            Name = "optimizer", Type = "sgd, adam or adamw", Help = "sgd is the reference's",
            Read = (r, n, c) => c.Optimizer = r.Choice(n, "optimizer", "sgd", "adam", "adamw"), Write = c => c.Optimizer,
        },
        Float("momentum", 0, c => c.Momentum, (c, v) => c.Momentum = v, "SGD momentum (PyTorch semantics)"),
        Float("weight_decay", 0, c => c.WeightDecay, (c, v) => c.WeightDecay = v, "L2 weight decay (decoupled for adamw)"),
        Bool("nesterov", c => c.Nesterov, (c, v) => c.Nesterov = v, "Nesterov momentum"),
        new()
        {
            Name = "betas", Type = "[β1, β2] in [0, 1)", Help = "Adam's coefficients",
            Read = (r, n, c) =>
            {
                var betas = r.Floats(n, "betas");
                if (betas.Length != 2 || betas.Any(b => b is < 0 or >= 1)) throw r.Error(n, "betas must be two numbers in [0, 1), e.g. [0.9, 0.999]");
                c.Betas = betas;
            },
            Write = c => $"[{F(c.Betas[0])}, {F(c.Betas[1])}]",
        },
        new()
        {
            Name = "eps", Type = "number > 0", Help = "Adam's ε", DefaultText = "1e-8",
            Read = (r, n, c) => c.Epsilon = r.Float(n, "eps", 0) is > 0 and var eps ? eps : throw r.Error(n, "eps must be > 0"),
            Write = c => F(c.Epsilon),
        },
        Probability("label_smoothing", c => c.LabelSmoothing, (c, v) => c.LabelSmoothing = (float)v, "PyTorch's: targets become (1 − ε)·y + ε/classes"),
        new()
        {
            Name = "exclude", Type = "file or list of files", DefaultText = "(none)",
            Help = "images left out of training: a CSV with a `filename` column (e.g. `ongko audit`'s audit.csv) or one name per line; a name is a " +
                   "file name, a path ending (`training-a/a00012.png`) or a full path; validation is not filtered; names matching nothing are warned about; `--exclude` overrides it",
            Read = (r, n, c) => c.Exclude = r.Strings(n, "exclude"),
            Write = c => c.Exclude.Count == 0 ? null : $"[{string.Join(", ", c.Exclude.Select(Q))}]",
        },
        OptionalStr("init_from", c => c.InitFrom, (c, v) => c.InitFrom = v,
                    "fine-tuning: a checkpoint whose tensors of matching name and shape initialise the model (the first convolution is converted " +
                    "between 1 and 3 input channels); the rest is initialised as usual; `--init-from` overrides it"),
        new()
        {
            Name = "freeze", Type = "integer >= 0", DefaultText = "0",
            Help = "fine-tuning: the first N declared layers (`layers.0` ... `layers.N-1`) get no update and run as in evaluation " +
                   "(BatchNorm keeps its running statistics, Dropout off) for `freeze_epochs` epochs",
            Read = (r, n, c) => c.FreezeLayers = r.Int(n, "freeze", 0), Write = c => c.FreezeLayers > 0 ? c.FreezeLayers.ToString(Inv) : null,
        },
        new()
        {
            Name = "freeze_epochs", Type = "integer >= 1", DefaultText = "the whole run",
            Help = "fine-tuning: epochs the `freeze` layers stay frozen; after them all layers train",
            Read = (r, n, c) => c.FreezeEpochs = r.Int(n, "freeze_epochs", 1), Write = c => c.FreezeEpochs?.ToString(Inv),
        },
        new()
        {
            Name = "distill_from", Type = "checkpoint or list of checkpoints", DefaultText = "(none)",
            Help = "distillation: trained models (same input and classes, same preprocessing) whose averaged probabilities on each training " +
                   "batch's very images join its targets, `(1 − distill_weight)·label + distill_weight·teachers`; `--distill-from` overrides it",
            Read = (r, n, c) => c.DistillFrom = r.Strings(n, "distill_from"),
            Write = c => c.DistillFrom.Count == 0 ? null : $"[{string.Join(", ", c.DistillFrom.Select(Q))}]",
        },
        new()
        {
            Name = "distill_weight", Type = "number in [0, 1]", DefaultText = "0.5",
            Help = "distillation: the teachers' share of each target row",
            Read = (r, n, c) => c.DistillWeight = (float)r.Probability(n, "distill_weight"), Write = c => c.DistillFrom.Count == 0 ? null : F(c.DistillWeight),
        },
        new()
        {
            Name = "distill_temperature", Type = "number > 0", DefaultText = "1",
            Help = "distillation: softens the teachers' probabilities, p^(1/T) renormalised (1 keeps them)",
            Read = (r, n, c) => c.DistillTemperature = r.Float(n, "distill_temperature", 0) is > 0 and var t ? t : throw r.Error(n, "distill_temperature must be > 0"),
            Write = c => c.DistillFrom.Count == 0 ? null : F(c.DistillTemperature),
        },
        new()
        {
            Name = "train_folders", Type = "list of folder names", Help = "NumtaDB folders under `data_dir` to train and validate on",
            Read = (r, n, c) => c.TrainFolders = r.Strings(n, "train_folders"),
            Write = c => $"[{string.Join(", ", c.TrainFolders.Select(Q))}]",
        },
        Probability("valid_fraction", c => c.ValidationFraction, (c, v) => c.ValidationFraction = (float)v,
                    "share of each (source, class) stratum held out for validation"),
        new()
        {
            Name = "sources", Type = "list of sources", DefaultText = "NumtaDB in data_dir",
            Help = "the data sets to train and validate on, e.g. `- {type: idx, images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}`; " +
                   "each split source is stratified on its own; relative paths are relative to data_dir",
            Read = ReadSources,
            Write = c => c.Sources.Count == 0 ? null : string.Concat(c.Sources.Select(source => "\n  - {" + string.Join(", ",
                All!.Where(k => k.WriteSource is not null).Select(k => k.WriteSource!(source) is { } v ? $"{k.Leaf}: {v}" : null).OfType<string>()) + "}")),
        },
        Source("type", "numtadb, folder_csv, class_folders or idx", "what the source is (required)",
               (r, n, s) => s with { Type = r.Choice(n, "sources[].type", "numtadb", "folder_csv", "class_folders", "idx") switch
               {
                   "numtadb" => SourceType.NumtaDb, "folder_csv" => SourceType.FolderCsv, "class_folders" => SourceType.ClassFolders, _ => SourceType.Idx,
               } },
               s => DataSource.TypeName(s.Type)),
        Source("path", "folder", "the data folder (numtadb: default data_dir; folder_csv; class_folders: one subfolder per class)",
               (r, n, s) => s with { Path = r.String(n, "sources[].path") }, s => s.Path is null ? null : Q(s.Path)),
        Source("folders", "list of folder names", "numtadb: the folders to read (default training-a, -b, -c)",
               (r, n, s) => s with { Folders = r.Strings(n, "sources[].folders") }, s => s.Folders is null ? null : $"[{string.Join(", ", s.Folders.Select(Q))}]"),
        Source("csv", "file", "folder_csv: the labels CSV (columns filename, digit)",
               (r, n, s) => s with { Csv = r.String(n, "sources[].csv") }, s => s.Csv is null ? null : Q(s.Csv)),
        Source("images", "file", "idx: the images file (.gz or raw)",
               (r, n, s) => s with { Images = r.String(n, "sources[].images") }, s => s.Images is null ? null : Q(s.Images)),
        Source("labels", "file", "idx: the labels file (.gz or raw)",
               (r, n, s) => s with { Labels = r.String(n, "sources[].labels") }, s => s.Labels is null ? null : Q(s.Labels)),
        Source("transpose", "true/false", "idx: swap rows and columns (EMNIST)",
               (r, n, s) => s with { Transpose = r.Bool(n, "sources[].transpose") }, s => s.Transpose ? "true" : null, "false"),
        Source("label_offset", "integer >= 0", "idx: subtracted from every label (EMNIST letters: 1)",
               (r, n, s) => s with { LabelOffset = r.Int(n, "sources[].label_offset", 0) }, s => s.LabelOffset != 0 ? s.LabelOffset.ToString(Inv) : null, "0"),
        Source("use", "split, train or valid", "split into training and validation, or use whole for one of them",
               (r, n, s) => s with { Use = r.Choice(n, "sources[].use", "split", "train", "valid") switch { "train" => SourceUse.Train, "valid" => SourceUse.Valid, _ => SourceUse.Split } },
               s => s.Use.ToString().ToLowerInvariant(), "split"),
        Source("valid_fraction", "number in [0, 1]", "this source's validation share (default: valid_fraction)",
               (r, n, s) => s with { ValidFraction = r.Probability(n, "sources[].valid_fraction") }, s => s.ValidFraction is { } v ? D(v) : null, "valid_fraction"),
        Source("weight", "number > 0", "each of this source's images counts this much in the training loss (its loss and gradient are scaled), " +
               "e.g. 0.5 for pseudo-labels; validation is unweighted",
               (r, n, s) => s with { Weight = r.Float(n, "sources[].weight", 0) is > 0 and var w ? w : throw r.Error(n, "sources[].weight must be > 0") },
               s => s.Weight != 1 ? F((float)s.Weight) : null, "1"),

        Augment(Ints2("img_shape", a => (a.Height, a.Width), (a, h, w) => { a.Height = h; a.Width = w; }, "[height, width] the images are resized to"), true),
        Augment(new()
        {
            Name = "channels", Type = "1 or 3", Help = "image channels; set from the first Conv2D's in_channels", DefaultText = "from the model",
            Read = (r, n, c) => c.Augment.Channels = r.Int(n, "augment.channels", 1) is var v && v is 1 or 3 ? v : throw r.Error(n, "augment.channels must be 1 or 3"),
            Write = c => c.Augment.Channels.ToString(Inv),
        }),
        Augment(BoolA("use_bbox", a => a.UseBoundingBox, (a, v) => a.UseBoundingBox = v, "crop to the digit's box (Otsu threshold, largest region)"), true),
        Augment(new()
        {
            Name = "reverse", Type = "true, false or auto", Reference = true, Help = "invert so the digit is light on dark; auto decides per image from its border",
            Read = (r, n, c) => c.Augment.Reverse = r.Choice(n, "augment.reverse", "true", "yes", "on", "false", "no", "off", "auto") switch
            {
                "true" or "yes" or "on" => ReverseMode.On, "false" or "no" or "off" => ReverseMode.Off, _ => ReverseMode.Auto,
            },
            Write = c => c.Augment.Reverse switch { ReverseMode.On => "true", ReverseMode.Off => "false", _ => "auto" },
        }),
        Augment(BoolA("aug", a => a.Augment, (a, v) => a.Augment = v, "training: rotation within ±10° and Gaussian blur, each half the time"), true),
        Augment(BoolA("dilation", a => a.Dilation, (a, v) => a.Dilation = v, "thicken strokes with a 5x5 dilation"), true),
        Augment(BoolA("opening", a => a.Opening, (a, v) => a.Opening = v, "5x5 morphological opening (drops specks)"), true),
        Augment(ProbabilityA("mixup", a => a.Mixup, (a, v) => a.Mixup = v, "probability that a training batch is mixed (Beta(8, 8))"), true),
        Augment(ProbabilityA("contour_cutout_prob", a => a.ContourCutoutProbability, (a, v) => a.ContourCutoutProbability = v, "probability of contour cutout per training image"), true),
        Augment(new()
        {
            Name = "contour_cutout_number", Type = "integer 1..1000", Reference = true, Help = "the most squares cut in one image",
            Read = (r, n, c) => c.Augment.ContourCutoutNumber = r.Int(n, "augment.contour_cutout_number", 1, maximum: 1000),
            Write = c => c.Augment.ContourCutoutNumber.ToString(Inv),
        }),
        Augment(BoolA("cache", a => a.Cache, (a, v) => a.Cache = v, "keep preprocessed images in memory (as bytes)"), true),
        Augment(new()
        {
            Name = "on_bad_image", Type = "skip or fail", Help = "an image that cannot be read is skipped (and counted) or stops the run",
            Read = (r, n, c) => c.Augment.OnBadImage = r.Choice(n, "augment.on_bad_image", "skip", "fail") == "skip" ? BadImagePolicy.Skip : BadImagePolicy.Fail,
            Write = c => c.Augment.OnBadImage.ToString().ToLowerInvariant(),
        }),
        Augment(new()
        {
            Name = "affine", Type = "{degrees, translate, scale, shear} or off",
            Help = "random affine warp after the resize, torchvision RandomAffine's forms (e.g. `{degrees: 10, translate: 0.1, scale: [0.9, 1.1], shear: 10}`)",
            DefaultText = "off",
            Read = (r, n, c) => c.Augment.Affine = ConfigFile.ReadAffine(r, n),
            Write = c => c.Augment.Affine is { } f
                ? $"{{degrees: [{D(f.DegreesMin)}, {D(f.DegreesMax)}], translate: [{D(f.TranslateX)}, {D(f.TranslateY)}], " +
                  $"scale: [{D(f.ScaleMin)}, {D(f.ScaleMax)}], shear: [{D(f.ShearXMin)}, {D(f.ShearXMax)}, {D(f.ShearYMin)}, {D(f.ShearYMax)}]}}"
                : null,
        }),
        Augment(new()
        {
            Name = "affine_prob", Type = "probability", Help = "probability that a training image gets the affine warp", DefaultText = "1",
            Read = (r, n, c) => c.Augment.AffineProbability = r.Probability(n, "augment.affine_prob"),
            Write = c => c.Augment.Affine is null ? null : D(c.Augment.AffineProbability),
        }),
        Augment(Optional(ProbabilityA("stroke", a => a.StrokeProbability, (a, v) => a.StrokeProbability = v,
            "training: probability of thicker or thinner strokes (a 3x3 dilation or erosion blended in by a random amount)"))),
        Augment(Optional(ProbabilityA("photometric", a => a.PhotometricProbability, (a, v) => a.PhotometricProbability = v,
            "training: probability of a random contrast (ink 55-100 %), background lift (0-20 %) and gamma (0.7-1.4)"))),
        Augment(Optional(new()
        {
            Name = "noise", Type = "number in [0, 1]", Help = "training: the largest standard deviation of Gaussian pixel noise (each image draws its own in [0, noise])",
            Read = (r, n, c) => c.Augment.Noise = r.Probability(n, "augment.noise"), Write = c => D(c.Augment.Noise),
        })),
        Augment(Optional(ProbabilityA("blur", a => a.BlurProbability, (a, v) => a.BlurProbability = v,
            "training: probability of a Gaussian blur with sigma 0.3-1.1 pixels"))),
        Augment(new()
        {
            Name = "normalize", Type = "none or digit", DefaultText = "none",
            Help = "digit: find the digit in any picture (any size, dark or light ink, uneven light, noise), crop it with a margin keeping its aspect; replaces reverse and use_bbox",
            Read = (r, n, c) => c.Augment.Normalize = r.Choice(n, "augment.normalize", "none", "digit") == "digit" ? NormalizeMode.Digit : NormalizeMode.None,
            Write = c => c.Augment.Normalize == NormalizeMode.Digit ? "digit" : null,
        }),

        Scheduler(new()
        {
            Name = "factor", Type = "number in [0, 1)", Reference = true, Help = "ReduceLROnPlateau: the rate is multiplied by it",
            Read = (r, n, c) => c.LrScheduler.Factor = r.Float(n, "lr_scheduler.factor", 0) is < 1 and var v ? v
                : throw r.Error(n, "lr_scheduler.factor must be below 1 (the learning rate is multiplied by it)"),
            Write = c => F(c.LrScheduler.Factor),
        }),
        Scheduler(new()
        {
            Name = "patience", Type = "integer >= 0", Reference = true, Help = "epochs without improvement of validation macro-F1 tolerated before lowering the rate",
            Read = (r, n, c) => c.LrScheduler.Patience = r.Int(n, "lr_scheduler.patience", 0), Write = c => c.LrScheduler.Patience.ToString(Inv),
        }),
        Scheduler(new()
        {
            Name = "threshold", Type = "number >= 0", Help = "relative improvement that counts",
            Read = (r, n, c) => c.LrScheduler.Threshold = r.Float(n, "lr_scheduler.threshold", 0), Write = c => F(c.LrScheduler.Threshold),
        }),
        Scheduler(new()
        {
            Name = "min_lr", Type = "number >= 0", Help = "the rate is not lowered below this",
            Read = (r, n, c) => c.LrScheduler.MinLearningRate = r.Float(n, "lr_scheduler.min_lr", 0), Write = c => F(c.LrScheduler.MinLearningRate),
        }),

        Schedule(new()
        {
            Name = "name", Type = "onecycle, cosine or plateau",
            Help = "a per-step schedule replacing lr_scheduler's plateau rule (`lr_schedule: plateau` or no key keeps the plateau rule)",
            Read = (r, n, c) => c.Schedule!.Name = r.Choice(n, "lr_schedule.name", "onecycle", "cosine", "plateau"), Write = c => c.Schedule?.Name,
            DefaultText = "plateau",
        }),
        Schedule(new()
        {
            Name = "max_lr", Type = "number >= 0", Help = "onecycle's peak", DefaultText = "lr",
            Read = (r, n, c) => c.Schedule!.MaxLearningRate = r.Float(n, "lr_schedule.max_lr", 0),
            Write = c => c.Schedule?.MaxLearningRate is { } max ? F(max) : null,
        }),
        ScheduleFloat("pct_start", s => s.PctStart, (s, v) => s.PctStart = v, "onecycle: share of steps spent rising", probability: true),
        ScheduleFloat("div_factor", s => s.DivFactor, (s, v) => s.DivFactor = v, "onecycle: start rate = max_lr / div_factor", minimum: 1),
        ScheduleFloat("final_div_factor", s => s.FinalDivFactor, (s, v) => s.FinalDivFactor = v, "onecycle: end rate = start / final_div_factor", minimum: 1),
        Schedule(new()
        {
            Name = "cycle_momentum", Type = "true/false", Help = "onecycle: move momentum opposite to the rate",
            Read = (r, n, c) => c.Schedule!.CycleMomentum = r.Bool(n, "lr_schedule.cycle_momentum"), Write = c => c.Schedule is { } s ? B(s.CycleMomentum) : null,
            DefaultText = "true",
        }),
        ScheduleFloat("base_momentum", s => s.BaseMomentum, (s, v) => s.BaseMomentum = v, "onecycle: momentum at the peak rate", probability: true),
        ScheduleFloat("max_momentum", s => s.MaxMomentum, (s, v) => s.MaxMomentum = v, "onecycle: momentum at the start and end", probability: true),
        ScheduleFloat("warmup_epochs", s => s.WarmupEpochs, (s, v) => s.WarmupEpochs = v, "cosine: epochs of linear warm-up (fractions allowed)"),
        ScheduleFloat("warmup_start_factor", s => s.WarmupStartFactor, (s, v) => s.WarmupStartFactor = v, "cosine: warm-up starts at lr times this", probability: true),
        ScheduleFloat("min_lr", s => s.MinLearningRate, (s, v) => s.MinLearningRate = v, "cosine: the rate at the end"),

        .. ConfigFile.IgnoredReferenceKeys.Select(key => new ConfigKey
        {
            Name = key, Type = "any", Reference = true, Help = "a reference setting Ongko accepts and ignores, with a notice", DefaultText = "—",
            Read = (_, _, c) => c.IgnoredKeys.Add(key),
        }),
    ];

    /// <summary>Reads <c>sources:</c>, a list of mappings, checking that each names its type and the files its type needs.</summary>
    static void ReadSources(ConfigReader reader, YamlNode node, TrainConfig config)
    {
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
            throw reader.Error(node, "'sources' must be a list of sources, e.g. - {type: numtadb, path: data/numta}");
        config.Sources = [];
        foreach (var item in list.Children)
        {
            config.Sources.Add(new DataSource());
            var mapping = reader.Mapping(item, "sources entry").ToList();
            ConfigFile.ReadMapping(reader, mapping, "sources[]", config);
            var given = mapping.Select(pair => reader.Key(pair.Key)).ToHashSet();
            string[] needed = config.Sources[^1].Type switch
            {
                SourceType.NumtaDb => [], SourceType.FolderCsv => ["path", "csv"], SourceType.ClassFolders => ["path"], _ => ["images", "labels"],
            };
            if (!given.Contains("type")) throw reader.Error(item, "a source needs 'type' (numtadb, folder_csv, class_folders or idx)");
            if (needed.FirstOrDefault(key => !given.Contains(key)) is { } missing)
                throw reader.Error(item, $"a {DataSource.TypeName(config.Sources[^1].Type)} source needs '{missing}'");
        }
    }

    static ConfigKey Source(string name, string type, string help, Func<ConfigReader, YamlNode, DataSource, DataSource> read,
                            Func<DataSource, string?> write, string? defaultText = null) => new()
    {
        Name = "sources[]." + name, Type = type, Help = help, DefaultText = defaultText ?? "(none)",
        Read = (r, n, c) => c.Sources[^1] = read(r, n, c.Sources[^1]), WriteSource = write,
    };

    static readonly Dictionary<string, ConfigKey> byName = All.ToDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>The key called <paramref name="name"/> (dotted), or null.</summary>
    public static ConfigKey? Find(string name) => byName.GetValueOrDefault(name);

    /// <summary>The known names directly under <paramref name="section"/> ("" for the top level), sections included.</summary>
    public static string[] NamesIn(string section) =>
        All.Where(k => k.Section == section).Select(k => k.Name)
           .Concat(Sections.Where(s => section == "" ? !s.Contains('.') : s.StartsWith(section + ".", StringComparison.Ordinal)))
           .ToArray();

    /// <summary>The README's key table (Markdown), generated from <see cref="All"/>.</summary>
    public static string MarkdownTable()
    {
        var text = new StringBuilder("| key | type | default | meaning |\n|---|---|---|---|\n");
        foreach (var key in All)
        {
            string help = key.Reference ? key.Help + " (reference key)" : key.Help;
            text.Append($"| `{key.Name}` | {Cell(key.Type)} | {Cell(key.Default)} | {Cell(help)} |\n");
        }
        return text.ToString();
    }

    static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");

    // Declaration helpers: one line per plain key.
    static ConfigKey Int(string name, int minimum, Func<TrainConfig, int> get, Action<TrainConfig, int> set, string help, bool reference = false) => new()
    {
        Name = name, Type = $"integer >= {minimum}", Help = help, Reference = reference,
        Read = (r, n, c) => set(c, r.Int(n, name, minimum)), Write = c => get(c).ToString(Inv),
    };

    static ConfigKey Float(string name, float minimum, Func<TrainConfig, float> get, Action<TrainConfig, float> set, string help, bool reference = false) => new()
    {
        Name = name, Type = $"number >= {minimum.ToString(Inv)}", Help = help, Reference = reference,
        Read = (r, n, c) => set(c, r.Float(n, name, minimum)), Write = c => F(get(c)),
    };

    static ConfigKey Probability(string name, Func<TrainConfig, double> get, Action<TrainConfig, double> set, string help) => new()
    {
        Name = name, Type = "number in [0, 1]", Help = help,
        Read = (r, n, c) => set(c, r.Probability(n, name)), Write = c => F((float)get(c)),
    };

    static ConfigKey Bool(string name, Func<TrainConfig, bool> get, Action<TrainConfig, bool> set, string help, bool reference = false) => new()
    {
        Name = name, Type = "true/false", Help = help, Reference = reference,
        Read = (r, n, c) => set(c, r.Bool(n, name)), Write = c => B(get(c)),
    };

    static ConfigKey Str(string name, Func<TrainConfig, string> get, Action<TrainConfig, string> set, string help, bool reference = false) => new()
    {
        Name = name, Type = "text", Help = help, Reference = reference,
        Read = (r, n, c) => set(c, r.String(n, name)), Write = c => Q(get(c)),
    };

    static ConfigKey OptionalStr(string name, Func<TrainConfig, string?> get, Action<TrainConfig, string?> set, string help, bool reference = false) => new()
    {
        Name = name, Type = "path or null", Help = help, Reference = reference,
        Read = (r, n, c) => set(c, r.OptionalString(n)), Write = c => get(c) is { } v ? Q(v) : null,
    };

    static ConfigKey Ints2(string name, Func<AugmentOptions, (int, int)> get, Action<AugmentOptions, int, int> set, string help) => new()
    {
        Name = name, Type = "[height, width]", Help = help,
        Read = (r, n, c) =>
        {
            var shape = r.Ints(n, "augment." + name, 1);
            if (shape.Length is not (1 or 2)) throw r.Error(n, $"augment.{name} must be [height, width]");
            set(c.Augment, shape[0], shape[^1]);
        },
        Write = c => get(c.Augment) is var (h, w) ? $"[{h}, {w}]" : null,
    };

    static ConfigKey BoolA(string name, Func<AugmentOptions, bool> get, Action<AugmentOptions, bool> set, string help) => new()
    {
        Name = name, Type = "true/false", Help = help,
        Read = (r, n, c) => set(c.Augment, r.Bool(n, "augment." + name)), Write = c => B(get(c.Augment)),
    };

    static ConfigKey ProbabilityA(string name, Func<AugmentOptions, double> get, Action<AugmentOptions, double> set, string help) => new()
    {
        Name = name, Type = "probability", Help = help,
        Read = (r, n, c) => set(c.Augment, r.Probability(n, "augment." + name)), Write = c => D(get(c.Augment)),
    };

    /// <summary>A key written into resolved configs only when it is not 0 (keys added after the reference's set).</summary>
    static ConfigKey Optional(ConfigKey key) => new()
    {
        Name = key.Name, Type = key.Type, Help = key.Help, Read = key.Read, DefaultText = key.DefaultText ?? "0",
        Write = c => key.Write(c) is var value && value != "0" ? value : null,
    };

    static ConfigKey ScheduleFloat(string name, Func<StepScheduleConfig, float> get, Action<StepScheduleConfig, float> set, string help,
                                   float minimum = 0, bool probability = false) => Schedule(new()
    {
        Name = name, Type = probability ? "number in [0, 1]" : $"number >= {minimum.ToString(Inv)}", Help = help,
        DefaultText = F(get(new StepScheduleConfig())),
        Read = (r, n, c) =>
        {
            string full = "lr_schedule." + name;
            float value = probability ? r.Probability(n, full) : r.Float(n, full, minimum);
            if (name == "pct_start" && value is 0 or 1) throw r.Error(n, "lr_schedule.pct_start must be strictly between 0 and 1");
            set(c.Schedule!, value);
        },
        Write = c => c.Schedule is { } s ? F(get(s)) : null,
    });

    static ConfigKey Augment(ConfigKey key, bool reference = false) => In("augment", key, reference);
    static ConfigKey Scheduler(ConfigKey key) => In("lr_scheduler", key, key.Reference);
    static ConfigKey Schedule(ConfigKey key) => In("lr_schedule", key, false);

    static ConfigKey In(string section, ConfigKey key, bool reference) => new()
    {
        Name = section + "." + key.Name, Type = key.Type, Help = key.Help, Reference = reference || key.Reference,
        DefaultText = key.DefaultText, Read = key.Read, Write = key.Write,
    };
}
