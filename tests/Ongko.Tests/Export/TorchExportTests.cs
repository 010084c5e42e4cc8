using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Export;

/// <summary>A fact that is skipped, with the reason, when /usr/bin/python3 or its torch module is missing.</summary>
public sealed class TorchFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";
    static readonly Lazy<string?> missing = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} is not installed";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import torch"]) { RedirectStandardError = true })!;
            string error = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(120_000)) { process.Kill(); return "python3 -c 'import torch' did not finish in 2 minutes"; }
            return process.ExitCode == 0 ? null : $"torch is not installed for {Python} (apt-get install python3-torch): {error.Trim().Split('\n')[^1]}";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"{Python} cannot run: {e.Message}"; }
    });

    public TorchFactAttribute()
    {
        if (missing.Value is { } reason) Skip = reason;
    }
}

/// <summary>The torch export loads strictly into the printed nn.Sequential and gives Ongko's outputs in PyTorch.</summary>
public class TorchExportTests
{
    // Loads each exported module with the generated load() (strict load_state_dict), runs the batch, writes the output.
    const string Driver = """
        import importlib.util, json, sys
        import numpy, torch
        torch.set_num_threads(1)
        for i, job in enumerate(json.load(open(sys.argv[1]))):
            spec = importlib.util.spec_from_file_location(f"exported{i}", job["python"])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            model = module.load(job["weights"]) if i % 2 else module.load()   # the default path too
            assert not model.training
            x = torch.from_numpy(numpy.fromfile(job["input"], dtype=numpy.float32).reshape(job["shape"]))
            with torch.no_grad():
                model(x).numpy().astype(numpy.float32).tofile(job["output"])
        """;

    [TorchFact]
    public void ShippedConfigsAndRandomStacksGiveOngkosOutputsInPyTorch()
    {
        using var dir = new TempDirectory();
        var models = ExportModels.ShippedConfigNames()
            .Select(name => (Name: name, Pair: ExportModels.FromConfig(name)))
            .Concat(new[] { 2, 4, 9, 11 }.Select(seed =>
            {
                var model = ExportModels.RandomStack(seed);
                return (Name: $"stack{seed}", Pair: (model, new AugmentOptions { Channels = model.InputShape[0] }));
            }))
            .ToList();
        var jobs = new List<Dictionary<string, object>>();
        var expected = new List<(string Name, Sequential Model, float[] Output)>();
        foreach (var (name, (original, preprocessing)) in models)
        {
            var (model, contract) = ExportModels.SaveAndLoad(original, preprocessing, dir.File($"{name}.ckpt"));
            string weights = dir.File($"{name}.safetensors");
            TorchExport.Write(weights, Path.ChangeExtension(weights, ".py"), model, contract);
            int batch = 3;
            var images = ExportModels.Images(model, batch, 17);
            File.WriteAllBytes(dir.File($"{name}.input"), MemoryMarshal.AsBytes(images.Span).ToArray());
            jobs.Add(new()
            {
                ["python"] = Path.ChangeExtension(weights, ".py"), ["weights"] = weights, ["input"] = dir.File($"{name}.input"),
                ["output"] = dir.File($"{name}.output"), ["shape"] = images.ShapeArray,
            });
            expected.Add((name, model, ExportModels.Evaluate(model, images)));
        }
        File.WriteAllText(dir.File("jobs.json"), JsonSerializer.Serialize(jobs));
        File.WriteAllText(dir.File("driver.py"), Driver);

        var (code, output) = RunPython(dir.File("driver.py"), dir.File("jobs.json"));
        Assert.True(code == 0, $"python3 driver failed ({code}):\n{output}");
        foreach (var (name, model, ongko) in expected)
        {
            float[] torch = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(dir.File($"{name}.output"))).ToArray();
            ExportModels.AssertSameOutputs(model, ongko, torch, $"{name} in PyTorch");
        }
    }

    [TorchFact]
    public void ExportCommandPrintsThePythonThatLoadsTheWeights()
    {
        using var dir = new TempDirectory();
        var (original, preprocessing) = ExportModels.FromConfig("numta28-best");
        string checkpoint = dir.File("best.safetensors");
        ExportModels.SaveAndLoad(original, preprocessing, checkpoint);
        var (code, output, error) = CliTests.Ongko("export", checkpoint, "--format", "torch", "-o", dir.File("numta28.safetensors"));
        Assert.True(code == 0, error);
        Assert.Contains("nn.Conv2d(1, 32, 3, stride=1, padding=1, bias=False)", output);
        Assert.Contains("nn.BatchNorm1d(256, eps=1E-05, momentum=0.1)", output);
        Assert.Equal(File.ReadAllText(dir.File("numta28.py")).Trim(), output[output.IndexOf("\"\"\"", StringComparison.Ordinal)..].Trim());
        // The file as a script: loads strictly and prints the module.
        var (pythonCode, printed) = RunPython(dir.File("numta28.py"));
        Assert.True(pythonCode == 0, printed);
        Assert.Contains("(22): Softmax(dim=1)", printed);
        // The safetensors header carries the contract for Python users too.
        var content = Safetensors.Read(dir.File("numta28.safetensors"));
        Assert.Equal("1,28,28", content.Metadata["input_shape"]);
        Assert.DoesNotContain(content.Tensors.Keys, k => k.StartsWith("optimizer") || k.StartsWith("layers."));
    }

    static (int Code, string Output) RunPython(params string[] args)
    {
        var start = new ProcessStartInfo(TorchFactAttribute.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(300_000), "python3 did not finish in 5 minutes");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
