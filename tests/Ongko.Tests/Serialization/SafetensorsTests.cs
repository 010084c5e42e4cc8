using System.Buffers.Binary;
using System.Text;
using Ongko.Serialization;
using Ongko.Tensors;

namespace Ongko.Tests.Serialization;

public class SafetensorsTests
{
    [Fact]
    public void RoundTripsTensorsAndMetadata()
    {
        using var dir = new TempDirectory();
        var rng = new Rng(3);
        var a = TestData.RandomTensor(rng, 2, 3, 4);
        var b = TestData.RandomTensor(rng, 5);
        Safetensors.Write(dir.File("x.safetensors"), [new("a", a), new("b", b)], new Dictionary<string, string> { ["epoch"] = "7" });
        var content = Safetensors.Read(dir.File("x.safetensors"));
        Assert.Equal(a.Span.ToArray(), content.Tensors["a"].Span.ToArray());
        Assert.Equal([2, 3, 4], content.Tensors["a"].ShapeArray);
        Assert.Equal(b.Span.ToArray(), content.Tensors["b"].Span.ToArray());
        Assert.Equal("7", content.Metadata["epoch"]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        // Header length is a multiple of 8 so the data starts aligned.
        var bytes = File.ReadAllBytes(dir.File("x.safetensors"));
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8);
    }

    static byte[] File8(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "outside")]
    [InlineData("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""", 16, "needs 12 bytes")]
    [InlineData("""{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}""", 8, "only F32")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlap")]
    [InlineData("""{"w": nonsense""", 0, "not valid JSON")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", 0, "negative")]
    public void RejectsMalformedFilesWithAClearMessage(string header, int dataBytes, string expected)
    {
        var ex = Assert.Throws<CheckpointException>(() => Safetensors.Parse(File8(header, dataBytes), "bad.safetensors"));
        Assert.Contains("bad.safetensors", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void RefusesAHeaderLengthLargerThanTheFile()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        var ex = Assert.Throws<CheckpointException>(() => Safetensors.Parse(bytes, "huge.safetensors"));
        Assert.Contains("not a safetensors checkpoint", ex.Message);
        Assert.Throws<CheckpointException>(() => Safetensors.Parse(new byte[3], "tiny.safetensors"));
        bytes[8] = (byte)'{';
        Assert.Contains("does not fit", Assert.Throws<CheckpointException>(() => Safetensors.Parse(bytes, "huge.safetensors")).Message);
    }
}
