using System.Globalization;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>
/// One PyTorch-made reference case: a safetensors file written by fixtures/make_fixtures.py
/// (inputs drawn in float32, everything computed in float64 by PyTorch, stored as float32).
/// </summary>
public sealed class TorchFixture
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures", "torch");

    public string Name { get; }
    readonly SafetensorsContent content;

    TorchFixture(string name, SafetensorsContent content) { Name = name; this.content = content; }

    /// <summary>Loads fixtures/torch/<paramref name="name"/>.safetensors from the test output folder.</summary>
    public static TorchFixture Load(string name)
    {
        string path = Path.Combine(Directory, name + ".safetensors");
        Assert.True(File.Exists(path), $"fixture {path} is missing: run tests/Ongko.Tests/fixtures/make_fixtures.py");
        return new TorchFixture(name, Safetensors.Read(path));
    }

    /// <summary>The case names (file names without extension) that start with <paramref name="prefix"/>,
    /// as xunit theory data. An empty folder gives no rows, which xunit reports as a failure.</summary>
    public static TheoryData<string> Cases(string prefix)
    {
        var data = new TheoryData<string>();
        if (!System.IO.Directory.Exists(Directory)) return data;
        foreach (string file in System.IO.Directory.GetFiles(Directory, prefix + "*.safetensors").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileNameWithoutExtension(file));
        return data;
    }

    public bool Has(string tensorName) => content.Tensors.ContainsKey(tensorName);

    /// <summary>A copy of the named tensor (the test may hand it to a layer that writes into it).</summary>
    public Tensor this[string tensorName]
    {
        get
        {
            Assert.True(content.Tensors.TryGetValue(tensorName, out var tensor),
                $"{Name}: no tensor '{tensorName}' (has {string.Join(", ", content.Tensors.Keys)})");
            return tensor!.Clone();
        }
    }

    public int MetaInt(string key) => int.Parse(Meta(key), CultureInfo.InvariantCulture);

    public string Meta(string key)
    {
        Assert.True(content.Metadata.TryGetValue(key, out var value), $"{Name}: no metadata '{key}'");
        return value!;
    }

    public bool MetaBool(string key, bool fallback) =>
        content.Metadata.TryGetValue(key, out var value) ? bool.Parse(value) : fallback;

    /// <summary>Integer labels that the fixture stores as float32 values.</summary>
    public int[] Labels(string tensorName)
    {
        var values = this[tensorName].Span;
        var labels = new int[values.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = (int)values[i];
            Assert.Equal(labels[i], values[i]);
        }
        return labels;
    }

    /// <summary>Copies the fixture tensor into <paramref name="target"/> (e.g. a layer's parameter), checking the shape.</summary>
    public void CopyInto(string tensorName, Tensor target)
    {
        var source = this[tensorName];
        Assert.True(source.SameShape(target),
            $"{Name}: '{tensorName}' is {Tensor.ShapeString(source.Shape)} but the engine's tensor is {Tensor.ShapeString(target.Shape)}");
        source.Span.CopyTo(target.Span);
    }
}
