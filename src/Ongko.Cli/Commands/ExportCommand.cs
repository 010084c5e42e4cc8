using System.CommandLine;
using Ongko.Serialization;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko export CKPT --format onnx|torch -o FILE</c>: the checkpoint's model as an ONNX file (for ONNX Runtime)
/// or as PyTorch weights plus the Python that builds the matching nn.Sequential (FILE with extension .py).
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "checkpoint written by ongko train" };
        var format = new Option<string>("--format", "-f") { Description = "onnx (ONNX opset 13) or torch (safetensors + Python)", DefaultValueFactory = _ => "onnx" };
        format.AcceptOnlyFromAmong("onnx", "torch");
        var output = new Option<string>("--output", "-o") { Description = "file to write (.onnx, or .safetensors with a .py beside it)", Required = true };
        var command = new Command("export", "Export a checkpoint's model to ONNX or PyTorch") { checkpoint, format, output };
        command.SetGuardedAction(parse =>
            Run(parse.GetValue(checkpoint)!, parse.GetValue(format)!, parse.GetValue(output)!, Console.Out));
        return command;
    }

    public static int Run(string checkpointPath, string format, string outputPath, TextWriter console)
    {
        string? pythonPath = format == "torch" ? Path.ChangeExtension(outputPath, ".py") : null;
        foreach (var target in new[] { outputPath, pythonPath }.OfType<string>())
        {
            if (SamePath(target, checkpointPath)) throw new UsageException($"{target}: would overwrite the checkpoint; choose another output file");
            if (Directory.Exists(target)) throw new UsageException($"{target}: is a folder; give a file name");
        }
        if (pythonPath is not null && SamePath(pythonPath, outputPath))
            throw new UsageException($"{outputPath}: the weights need another extension than .py (the Python goes beside them)");

        var content = Checkpoint.Read(checkpointPath);
        var model = Checkpoint.LoadModel(checkpointPath, content);
        var contract = ExportContract.Describe(model, content.Metadata, checkpointPath);
        if (format == "onnx")
        {
            OnnxExport.Write(outputPath, model, contract);
            console.WriteLine($"Wrote {outputPath}: ONNX opset {OnnxExport.Opset}, {model.ParameterCount:#,0} parameters; " +
                              $"output {contract["output"]}");
        }
        else
        {
            string source = TorchExport.Write(outputPath, pythonPath!, model, contract);
            console.WriteLine($"Wrote {outputPath} (weights, {model.ParameterCount:#,0} parameters) and {pythonPath}:");
            console.WriteLine();
            console.Write(source);
            return 0;
        }
        console.WriteLine("Preprocessing contract (also in the file's metadata):");
        foreach (var (key, value) in contract.Where(p => p.Key != "preprocessing")) console.WriteLine($"  {key}: {value}");
        return 0;
    }

    static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
