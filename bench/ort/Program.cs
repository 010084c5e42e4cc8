// ONNX Runtime anchor for bench/compare.sh.
//
//   dotnet bench/ort/bin/Release/net10.0/OrtBench.dll run MODEL.onnx [--batch 128] [--threads 1,2] [--seconds 2]
//       loads an exported ONNX file (all graph optimisations on, one inter-op thread) and prints JSON: for each
//       intra-op thread count, images/s at --batch and batch-1 latency (medians over repeated runs, random inputs in [0, 1]).
//   dotnet bench/ort/bin/Release/net10.0/OrtBench.dll prepare SOURCE OUTDIR
//       SOURCE is an Ongko checkpoint or a YAML config (seeded random weights); writes OUTDIR/NAME.onnx,
//       OUTDIR/NAME.safetensors + NAME.py (the torch export) and OUTDIR/NAME.yaml (for ongko bench --config),
//       and prints their paths and the input shape as JSON.
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tensors;

try
{
    return args.FirstOrDefault() switch
    {
        "run" when args.Length >= 2 => Run(args[1], Option("--batch", 128), Option("--threads", "1,2").Split(',').Select(int.Parse).ToArray(), Option("--seconds", 2.0)),
        "prepare" when args.Length == 3 => Prepare(args[1], args[2]),
        _ => Usage(),
    };
}
catch (Exception e) when (e is OnnxRuntimeException or Ongko.OngkoInputException or IOException or FormatException)
{
    Console.Error.WriteLine($"OrtBench: {e.Message}");
    return 2;
}

int Usage()
{
    Console.Error.WriteLine("usage: OrtBench run MODEL.onnx [--batch 128] [--threads 1,2] [--seconds 2]\n       OrtBench prepare SOURCE(.yaml|checkpoint) OUTDIR");
    return 2;
}

T Option<T>(string name, T fallback) where T : IParsable<T>
{
    int index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? T.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static int Run(string path, int batch, int[] threadCounts, double seconds)
{
    var runs = new List<object>();
    foreach (int threads in threadCounts)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        using var session = new InferenceSession(path, options);
        var sampleShape = session.InputMetadata[OnnxExport.InputName].Dimensions[1..];
        double images = Measure(session, batch, sampleShape, seconds);
        double single = Measure(session, 1, sampleShape, Math.Min(seconds, 2));
        runs.Add(new { Threads = threads, Batch = batch, InferImagesPerSecond = batch / images, Batch1LatencyMilliseconds = single * 1000 });
    }
    Console.WriteLine(JsonSerializer.Serialize(new { Engine = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}", Model = path, Runs = runs },
                                               new JsonSerializerOptions { WriteIndented = true }));
    return 0;
}

// Median seconds of one run at this batch size, inputs and outputs bound once.
static double Measure(InferenceSession session, int batch, int[] sampleShape, double budget)
{
    long[] shape = [batch, .. sampleShape.Select(d => (long)d)];
    var rng = new Rng(1);
    var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
    for (int i = 0; i < data.Length; i++) data[i] = rng.NextFloat();
    using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
    string outputName = session.OutputNames[0];
    long[] outputShape = [batch, .. session.OutputMetadata[outputName].Dimensions[1..].Select(d => (long)d)];
    using var output = OrtValue.CreateTensorValueFromMemory(new float[outputShape.Aggregate(1L, (a, b) => a * b)], outputShape);
    using var runOptions = new RunOptions();
    // ongko bench's timing loop: one warm-up run, then repeats for the budget; the median.
    return Ongko.Cli.Commands.BenchCommand.MedianSeconds(() => session.Run(runOptions, [OnnxExport.InputName], [input], [outputName], [output]), budget);
}

static int Prepare(string source, string outputDirectory)
{
    Directory.CreateDirectory(outputDirectory);
    string name = Path.GetFileNameWithoutExtension(source);
    string Output(string extension) => Path.Combine(outputDirectory, name + extension);
    Sequential model;
    IReadOnlyDictionary<string, string> metadata;
    string configYaml;
    if (source.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
    {
        var config = ConfigFile.Load(source);
        model = LayerFactory.Create(config.Model, config.SourcePath).Build(config.SampleShape, new Rng(config.Seed));
        metadata = new Dictionary<string, string>();
        configYaml = File.ReadAllText(source);
    }
    else
    {
        var content = Checkpoint.Read(source);
        model = Checkpoint.LoadModel(source, content);
        metadata = content.Metadata;
        configYaml = content.Metadata.TryGetValue("config", out var yaml) && yaml.Length > 0 ? yaml
            : throw new IOException($"{source}: the checkpoint records no config for ongko bench");
    }
    var contract = ExportContract.Describe(model, metadata, source);
    OnnxExport.Write(Output(".onnx"), model, contract);
    TorchExport.Write(Output(".safetensors"), Output(".py"), model, contract);
    File.WriteAllText(Output(".yaml"), configYaml);
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        Onnx = Output(".onnx"), TorchPython = Output(".py"), Config = Output(".yaml"), InputShape = model.InputShape,
    }));
    return 0;
}
