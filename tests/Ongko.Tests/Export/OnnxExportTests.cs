using Microsoft.ML.OnnxRuntime;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Tests.Cli;

namespace Ongko.Tests.Export;

/// <summary>Exported ONNX files run in ONNX Runtime and give Ongko's own evaluation-mode outputs.</summary>
public class OnnxExportTests
{
    public static TheoryData<string> Configs() => ExportModels.ShippedConfigs();

    [Theory]
    [MemberData(nameof(Configs))]
    public void ShippedConfigGivesOngkosOutputsInOnnxRuntime(string config)
    {
        using var dir = new TempDirectory();
        var (model, preprocessing) = ExportModels.FromConfig(config);
        CheckInOnnxRuntime(model, preprocessing, dir.File("model.safetensors"), config);
    }

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)] [InlineData(6)]
    [InlineData(7)] [InlineData(8)] [InlineData(9)] [InlineData(10)] [InlineData(11)] [InlineData(12)]
    public void RandomLayerStackGivesOngkosOutputsInOnnxRuntime(int seed)
    {
        using var dir = new TempDirectory();
        var model = ExportModels.RandomStack(seed);
        CheckInOnnxRuntime(model, new AugmentOptions { Channels = model.InputShape[0] }, dir.File("model.safetensors"), $"stack {seed} {Describe(model)}");
    }

    [Theory]
    // Overlapping windows (3/2, 2/1), windows that skip the last rows (floor), strided padded convolutions, BatchNorm1D,
    // a final Dropout (dropped: the Gemm before it must write the output), no final Softmax.
    [InlineData("Conv2D 3 8 5 2 2|BatchNorm2D 8|ReLU|MaxPool2D 3 2|Conv2D 8 6 3 1 1 false|ReLU|MaxPool2D 2 1|Flatten|Linear 12|BatchNorm1D 12|ReLU|Linear 5|Softmax", 3, 23, 19)]
    [InlineData("Conv2D 1 4 2 1 1|MaxPool2D 3 3|Conv2D 4 4 1 3 0|Flatten|Dropout 0.5|Linear 6 false|ReLU|Linear 3|Dropout 0.1", 1, 17, 16)]
    [InlineData("Conv2D 1 4 3 1 0|BatchNorm2D 4|Flatten|Linear 4|BatchNorm1D 4|Linear 10", 1, 8, 8)]
    public void HandPickedStackGivesOngkosOutputsInOnnxRuntime(string layers, int channels, int height, int width)
    {
        using var dir = new TempDirectory();
        var rows = layers.Split('|').Select((row, i) =>
        {
            var parts = row.Split(' ');
            return new LayerSpec(parts[0], parts[1..], i + 1, 0);
        });
        var model = LayerFactory.Create(rows, "hand-picked").Build([channels, height, width], new Tensors.Rng(3));
        ExportModels.Randomize(model, new Tensors.Rng(4));
        CheckInOnnxRuntime(model, new AugmentOptions { Channels = channels, Height = height, Width = width }, dir.File("model.safetensors"), layers);
    }

    /// <summary>Exports through a checkpoint, then runs two batch sizes through one session (the batch dimension is symbolic).</summary>
    static void CheckInOnnxRuntime(Sequential original, AugmentOptions preprocessing, string checkpointPath, string what)
    {
        var (model, contract) = ExportModels.SaveAndLoad(original, preprocessing, checkpointPath);
        byte[] onnx = OnnxExport.ToBytes(model, contract);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, options);
        Assert.Equal(ExportContract.OutputName(model), session.OutputNames.Single());
        var plan = InferencePlan.TryCompile(model);
        foreach (int batch in new[] { 2, 9 })
        {
            var images = ExportModels.Images(model, batch, (ulong)batch);
            float[] expected = ExportModels.Evaluate(model, images);
            float[] actual = Run(session, images.Span.ToArray(), [batch, .. model.InputShape]);
            ExportModels.AssertSameOutputs(model, expected, actual, $"{what}, batch {batch}");
            // The inference plan (what prediction runs; batch 9: its Linears as one GEMM) against ONNX Runtime too.
            if (plan is not null) ExportModels.AssertSameOutputs(model, plan.Forward(images).Span.ToArray(), actual, $"{what}, inference plan, batch {batch}");
            // And Ongko's outputs before the checkpoint round trip are the same (the export reads what was saved).
            TestData.AssertClose(ExportModels.Evaluate(original, images), expected, 0, 0, $"{what}: checkpoint round trip");
        }
    }

    public static float[] Run(InferenceSession session, float[] images, int[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(images, shape.Select(d => (long)d).ToArray());
        using var outputs = session.Run(new RunOptions(), [OnnxExport.InputName], [input], session.OutputNames);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static string Describe(Sequential model) =>
        $"[{string.Join(", ", model.InputShape)}] " + string.Join(" ", model.Layers.Select(l => l.ToString()));

    [Fact]
    public void FileHoldsStandardOperatorsDynamicBatchAndTheContract()
    {
        using var dir = new TempDirectory();
        var (original, preprocessing) = ExportModels.FromConfig("numta28-best");
        var (model, contract) = ExportModels.SaveAndLoad(original, preprocessing, dir.File("ckpt.safetensors"));
        var proto = Onnx.ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(model, contract));

        Assert.Equal(13, proto.OpsetImport.Single(o => o.Domain == "").Version);
        var operators = proto.Graph.Node.Select(n => n.OpType).Distinct().Order().ToArray();
        Assert.Equal(["BatchNormalization", "Conv", "Flatten", "Gemm", "MaxPool", "Relu", "Softmax"], operators);
        var input = proto.Graph.Input.Single();
        Assert.Equal("input", input.Name);
        Assert.Equal("batch", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal([1L, 28, 28], input.Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
        Assert.Equal("probabilities", proto.Graph.Output.Single().Name);
        var batchNorm = proto.Graph.Node.First(n => n.OpType == "BatchNormalization");
        Assert.Equal(1e-5f, batchNorm.Attribute.Single(a => a.Name == "epsilon").F);
        Assert.Equal(0.9f, batchNorm.Attribute.Single(a => a.Name == "momentum").F, 6);
        Assert.Equal(original.ParameterCount + original.NamedBuffers.Where(b => !b.Name.EndsWith("num_batches_tracked")).Sum(b => b.Value.Length),
                     proto.Graph.Initializer.Sum(t => t.RawData.Length / 4));

        var metadata = proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("1,28,28", metadata["input_shape"]);
        Assert.Equal("10", metadata["classes"]);
        Assert.Contains("pixel / 255", metadata["scale"]);
        Assert.Contains("28x28", metadata["resize"]);
        Assert.Contains("reverse: auto", metadata["polarity"]);
        Assert.StartsWith("1:", metadata["channels"]);
        Assert.Contains("\"Reverse\":\"Auto\"", metadata["preprocessing"]);
    }

    [Fact]
    public void ContractFollowsTheCheckpointsPreprocessing()
    {
        using var dir = new TempDirectory();
        var (model, _) = ExportModels.FromConfig("numta28-best");
        var (_, digit) = ExportModels.SaveAndLoad(model, new AugmentOptions { Channels = 1, Normalize = NormalizeMode.Digit }, dir.File("a.safetensors"));
        Assert.Contains("DigitLocator", digit["resize"]);
        Assert.DoesNotContain("reverse", digit["polarity"]);
        var (_, reference) = ExportModels.SaveAndLoad(model, new AugmentOptions { Channels = 1, UseBoundingBox = true, Reverse = ReverseMode.Off, Dilation = true },
                                                      dir.File("b.safetensors"));
        Assert.StartsWith("cropped to the digit's box", reference["resize"]);
        Assert.Contains("reverse: off", reference["polarity"]);
        Assert.Equal("5x5 dilation (after the polarity step)", reference["morphology"]);
        // A checkpoint saved without preprocessing gets Checkpoint.DefaultPreprocessing (images used as given, resized).
        Checkpoint.Save(dir.File("c.safetensors"), model);
        var content = Checkpoint.Read(dir.File("c.safetensors"));
        var plain = ExportContract.Describe(Checkpoint.LoadModel(dir.File("c.safetensors"), content), content.Metadata, "c");
        Assert.Equal("1,28,28", plain["input_shape"]);
        Assert.Contains("reverse: off", plain["polarity"]);
        Assert.StartsWith("the whole image (no crop)", plain["resize"]);
        // Metadata without any preprocessing (older files) still exports, with the shapes only.
        var bare = ExportContract.Describe(model, new Dictionary<string, string>(), "bare");
        Assert.StartsWith("unknown", bare["preprocessing"]);
        Assert.False(bare.ContainsKey("resize"));
    }

    [Fact]
    public void ExportCommandWritesAFileOnnxRuntimeRunsAndRefusesBadRequests()
    {
        using var dir = new TempDirectory();
        var (original, preprocessing) = ExportModels.FromConfig("lenet");
        string checkpoint = dir.File("best.safetensors");
        var (model, _) = ExportModels.SaveAndLoad(original, preprocessing, checkpoint);

        var (code, output, error) = CliTests.Ongko("export", checkpoint, "--format", "onnx", "-o", dir.File("lenet.onnx"));
        Assert.True(code == 0, error);
        Assert.Contains("opset 13", output);
        Assert.Contains("scale: value = pixel / 255", output);
        using var session = new InferenceSession(dir.File("lenet.onnx"));
        Assert.Equal("3,28,28", session.ModelMetadata.CustomMetadataMap["input_shape"]);
        var images = ExportModels.Images(model, 3, 5);
        ExportModels.AssertSameOutputs(model, ExportModels.Evaluate(model, images), Run(session, images.Span.ToArray(), [3, 3, 28, 28]), "ongko export lenet");

        (code, _, error) = CliTests.Ongko("export", checkpoint, "--format", "torch", "-o", checkpoint);
        Assert.Equal(2, code);
        Assert.Contains("would overwrite the checkpoint", error);
        (code, _, error) = CliTests.Ongko("export", dir.File("missing.safetensors"), "-o", dir.File("x.onnx"));
        Assert.Equal(2, code);
        Assert.Contains("missing.safetensors", error);
        Assert.DoesNotContain("   at ", error);
        (code, _, error) = CliTests.Ongko("export", checkpoint, "--format", "tflite", "-o", dir.File("x.onnx"));
        Assert.Equal(2, code);
        Assert.Contains("tflite", error);
        Assert.False(File.Exists(dir.File("x.onnx")));
    }
}
