using System.Runtime.InteropServices;
using Google.Protobuf;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;
using Onnx;

namespace Ongko.Serialization;

/// <summary>
/// A built model as an ONNX file: ModelProto from the official onnx.proto (compiled at build time), opset 13,
/// standard operators only, one node per layer in evaluation mode:
/// Conv2D → Conv (pads p on every side), BatchNorm2D/1D → BatchNormalization (running statistics, Ongko's ε,
/// momentum 1 − PyTorch's), ReLU → Relu, MaxPool2D → MaxPool (no padding, ceil_mode 0: windows past the edge are
/// dropped; overlapping windows allowed), Flatten → Flatten (axis 1), Linear → Gemm (transB 1, weight [out, in]),
/// Softmax → Softmax (axis 1); Dropout and Dropout2D are the identity in evaluation and are left out.
/// The input "input" is float32 [batch, C, H, W] with a symbolic batch dimension; the output is "probabilities"
/// (model ends with Softmax) or "logits". Weights are initializers named as in the checkpoint ("layers.0.weight").
/// </summary>
public static class OnnxExport
{
    public const int Opset = 13;
    /// <summary>IR version 7 (ONNX 1.8) is the one that goes with opset 13; every runtime since reads it.</summary>
    const long IrVersion = 7;
    public const string InputName = "input";

    /// <summary>Writes the model through a temporary file (no torn file on failure).</summary>
    public static void Write(string path, Sequential model, IReadOnlyDictionary<string, string> contract) =>
        AtomicFile.WriteAllBytes(path, ToBytes(model, contract));

    public static byte[] ToBytes(Sequential model, IReadOnlyDictionary<string, string> contract) => Build(model, contract).ToByteArray();

    internal static ModelProto Build(Sequential model, IReadOnlyDictionary<string, string> contract)
    {
        if (!model.IsBuilt) throw new InvalidOperationException("the model must be built before export");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian machines are not supported");
        var graph = new GraphProto { Name = "ongko" };
        graph.Input.Add(Value(InputName, model.InputShape));
        string x = InputName;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            string name = $"layers.{i}";
            if (layer is Dropout) continue;   // the identity in evaluation mode
            foreach (var (tensorName, value) in ExportContract.Tensors(layer))
                if (tensorName != "num_batches_tracked") graph.Initializer.Add(Initializer($"{name}.{tensorName}", value));
            var node = layer switch
            {
                Conv2D conv => Convolution(conv, name, x),
                BatchNorm norm => Node("BatchNormalization", name, [x, $"{name}.weight", $"{name}.bias", $"{name}.running_mean", $"{name}.running_var"],
                                       Attribute("epsilon", norm.Epsilon), Attribute("momentum", 1 - norm.Momentum)),
                ReLU => Node("Relu", name, [x]),
                MaxPool2D pool => Pooling(pool, name, x),
                Flatten => Node("Flatten", name, [x], Attribute("axis", 1)),
                Linear linear => Node("Gemm", name, linear.Bias is null ? [x, $"{name}.weight"] : [x, $"{name}.weight", $"{name}.bias"],
                                      Attribute("transB", 1)),
                Softmax => Node("Softmax", name, [x], Attribute("axis", 1)),
                _ => throw ExportContract.Unsupported(layer, i, "ONNX"),
            };
            graph.Node.Add(node);
            x = node.Output[0];
        }
        string outputName = ExportContract.OutputName(model);
        if (graph.Node.Count == 0) graph.Node.Add(Node("Identity", "identity", [x]));
        graph.Node[^1].Output[0] = outputName;
        graph.Output.Add(Value(outputName, model.OutputShape));

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "ongko",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "",
            DocString = "Exported by Ongko. The preprocessing contract is in metadata_props: " +
                        string.Join("; ", contract.Where(p => p.Key != "preprocessing").Select(p => $"{p.Key}: {p.Value}")),
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in contract) proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    static NodeProto Convolution(Conv2D conv, string name, string x)
    {
        var (kernel, stride, padding) = ExportContract.Settings(conv);
        string[] inputs = conv.Bias is null ? [x, $"{name}.weight"] : [x, $"{name}.weight", $"{name}.bias"];
        return Node("Conv", name, inputs, Attribute("kernel_shape", kernel, kernel), Attribute("strides", stride, stride),
                    Attribute("pads", padding, padding, padding, padding), Attribute("dilations", 1, 1), Attribute("group", 1));
    }

    static NodeProto Pooling(MaxPool2D pool, string name, string x)
    {
        var (kernel, stride) = ExportContract.Settings(pool);
        return Node("MaxPool", name, [x], Attribute("kernel_shape", kernel, kernel), Attribute("strides", stride, stride),
                    Attribute("pads", 0, 0, 0, 0), Attribute("ceil_mode", 0));
    }

    static NodeProto Node(string operatorType, string name, string[] inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = operatorType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add($"{name}.output");
        node.Attribute.AddRange(attributes);
        return node;
    }

    static AttributeProto Attribute(string name, int value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    static AttributeProto Attribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    static TensorProto Initializer(string name, Tensor value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float,
                                       RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(value.Span)) };
        tensor.Dims.AddRange(value.ShapeArray.Select(d => (long)d));
        return tensor;
    }

    /// <summary>A float32 graph input or output of shape [batch, ..sampleShape] with "batch" left symbolic.</summary>
    static ValueInfoProto Value(string name, int[] sampleShape)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (int d in sampleShape) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
