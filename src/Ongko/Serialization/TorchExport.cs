using System.Globalization;
using System.Text;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Serialization;

/// <summary>
/// A built model for PyTorch: a weights-only safetensors file whose names ("0.weight", "1.running_mean", ...) load with
/// a strict <c>load_state_dict</c> into the equivalent <c>torch.nn.Sequential</c>, and the Python that builds that module.
/// Layer i of the Ongko model is module i (Dropout included), so the names are the checkpoint's without "layers.".
/// The preprocessing contract goes into the safetensors __metadata__ and the Python file's docstring.
/// </summary>
public static class TorchExport
{
    /// <summary>Writes <paramref name="path"/> (weights) and <paramref name="pythonPath"/>; returns the Python source.</summary>
    public static string Write(string path, string pythonPath, Sequential model, IReadOnlyDictionary<string, string> contract)
    {
        string source = PythonSource(model, Path.GetFileName(path), Path.GetFileName(pythonPath), contract);
        Safetensors.Write(path, StateDict(model), contract);
        AtomicFile.WriteAllText(pythonPath, source);
        return source;
    }

    /// <summary>The module's state_dict: every parameter and buffer, named "{index}.{name}".</summary>
    public static List<KeyValuePair<string, Tensor>> StateDict(Sequential model) =>
        model.Layers.SelectMany((layer, i) => ExportContract.Tensors(layer).Select(t => KeyValuePair.Create($"{i}.{t.Name}", t.Value))).ToList();

    /// <summary>The torch.nn constructor of each layer, e.g. "nn.Conv2d(1, 32, 3, stride=1, padding=1, bias=False)".</summary>
    public static IReadOnlyList<string> Modules(Sequential model)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built before export");
        var modules = new List<string>();
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            int[] inputShape = i == 0 ? model.InputShape : model.LayerOutputShapes[i - 1];
            modules.Add(layer switch
            {
                Conv2D conv => Convolution(conv),
                BatchNorm2D norm => $"nn.BatchNorm2d({norm.Weight.Value.Length}, eps={Number(norm.Epsilon)}, momentum={Number(norm.Momentum)})",
                BatchNorm1D norm => $"nn.BatchNorm1d({norm.Weight.Value.Length}, eps={Number(norm.Epsilon)}, momentum={Number(norm.Momentum)})",
                ReLU => "nn.ReLU()",
                MaxPool2D pool => Pooling(pool),
                Flatten => "nn.Flatten()",
                Linear linear => $"nn.Linear({inputShape[0]}, {linear.Weight.Value[0]}, bias={(linear.Bias is null ? "False" : "True")})",
                Softmax => "nn.Softmax(dim=1)",
                Dropout2D => $"nn.Dropout2d({layer.Arguments})",
                Dropout => $"nn.Dropout({layer.Arguments})",
                _ => throw ExportContract.Unsupported(layer, i, "PyTorch"),
            });
        }
        return modules;
    }

    static string Convolution(Conv2D conv)
    {
        var (kernel, stride, padding) = ExportContract.Settings(conv);
        var w = conv.Weight.Value;
        return $"nn.Conv2d({w[1]}, {w[0]}, {kernel}, stride={stride}, padding={padding}, bias={(conv.Bias is null ? "False" : "True")})";
    }

    static string Pooling(MaxPool2D pool)
    {
        var (kernel, stride) = ExportContract.Settings(pool);
        return $"nn.MaxPool2d({kernel}, stride={stride})";
    }

    static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A Python file that builds the module and loads <paramref name="weightsFile"/> (next to it) strictly.</summary>
    public static string PythonSource(Sequential model, string weightsFile, string pythonFile, IReadOnlyDictionary<string, string> contract)
    {
        var text = new StringBuilder();
        text.Append("\"\"\"PyTorch twin of an Ongko model; weights in ").Append(weightsFile).Append(".\n\n");
        foreach (var (key, value) in contract.Where(p => p.Key != "preprocessing"))
            text.Append(key).Append(": ").Append(value.Replace("\\", "\\\\").Replace("\"\"\"", "'''")).Append('\n');
        text.Append("""

            Use:  python3 {0} [WEIGHTS]   (loads the weights strictly and prints the module)
                  model = load()   (after importing this file; WEIGHTS defaults to the file next to it)

            """.Replace("{0}", pythonFile)).Append("\"\"\"\n");
        text.Append("""
            import json, os, sys
            import torch
            from torch import nn


            def build():
                return nn.Sequential(

            """);
        foreach (var module in Modules(model)) text.Append("        ").Append(module).Append(",\n");
        text.Append("""
                )


            def read_safetensors(path):
                try:
                    from safetensors.torch import load_file
                    return load_file(path)
                except ImportError:  # the format: 8-byte little-endian header size, JSON header, raw float32 data
                    with open(path, "rb") as f:
                        data = f.read()
                    size = int.from_bytes(data[:8], "little")
                    header, body = json.loads(data[8:8 + size]), data[8 + size:]
                    return {name: torch.frombuffer(bytearray(body[entry["data_offsets"][0]:entry["data_offsets"][1]]), dtype=torch.float32)
                            .reshape(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


            def load(path=None):
                # The module with the exported weights (default: the file next to this one), in evaluation mode.
                path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), 
            """).Append('"').Append(weightsFile.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\")\n");
        text.Append("""
                model = build()
                model.load_state_dict(read_safetensors(path), strict=True)
                return model.eval()


            if __name__ == "__main__":
                print(load(*sys.argv[1:2]))

            """);
        return text.ToString();
    }
}
