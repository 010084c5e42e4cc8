using System.Net;
using System.Text.Json;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tests.Hostile;
using Ongko.Training;
using Ongko.Vision;
using StbImageSharp;
using static Ongko.Tests.Serve.ServeFixture;

namespace Ongko.Tests.Serve;

/// <summary>Every route of `ongko serve` and every class of bad input, against the real server on a loopback port.</summary>
public sealed class ServeApiTests(ServeFixture server) : IClassFixture<ServeFixture>
{
    HttpClient Client => server.Client;

    /// <summary>What `ongko predict`'s path (DataLoader batches, the checkpoint's model and preprocessing) gives for these files.</summary>
    float[][] ExpectedFromLoader(params byte[][] images)
    {
        using var folder = new TempDirectory();
        var samples = images.Select((bytes, i) =>
        {
            string path = folder.File($"{i}.img");
            File.WriteAllBytes(path, bytes);
            return new Sample(path, -1, "test");
        }).ToList();
        var content = Checkpoint.Read(server.CheckpointPath);
        var state = TrainingCheckpoint.ReadState(content.Metadata, server.CheckpointPath);
        var model = Checkpoint.LoadModel(server.CheckpointPath, content);
        var loader = new DataLoader(samples, state.Preprocessing, batchSize: images.Length, shuffle: false, train: false, seed: 0, prefetch: 0);
        var batch = loader.Epoch(0).Single();
        var output = model.Forward(batch.Images, training: false).Span.ToArray();
        return Enumerable.Range(0, images.Length).Select(n => output[(n * 10)..(n * 10 + 10)]).ToArray();
    }

    static void AssertPrediction(JsonElement json, float[] expected)
    {
        var probabilities = Probabilities(json);
        TestData.AssertClose(expected, probabilities, 1e-5, 1e-4, "probabilities");
        Assert.InRange(probabilities.Sum(), 0.999f, 1.001f);
        int digit = json.GetProperty("digit").GetInt32();
        Assert.Equal(Array.IndexOf(probabilities, probabilities.Max()), digit);
        Assert.Equal(probabilities[digit], json.GetProperty("confidence").GetSingle());
        Assert.Equal("০১২৩৪৫৬৭৮৯"[digit].ToString(), json.GetProperty("numeral").GetString());
        Assert.True(json.GetProperty("milliseconds").GetDouble() > 0);
    }

    [Fact]
    public async Task HealthSaysOkAndNamesTheModel()
    {
        var (status, json, _) = await Send(Client, HttpMethod.Get, "/api/health");
        Assert.Equal(200, status);
        Assert.Equal("ok", json.GetProperty("status").GetString());
        Assert.Equal("small.safetensors", json.GetProperty("model").GetString());
    }

    [Fact]
    public async Task ModelDescribesTheCheckpointAndCarriesItsCard()
    {
        var (status, json, _) = await Send(Client, HttpMethod.Get, "/api/model");
        Assert.Equal(200, status);
        var model = Checkpoint.LoadModel(server.CheckpointPath, Checkpoint.Read(server.CheckpointPath));
        Assert.Equal(model.ParameterCount, json.GetProperty("parameters").GetInt64());
        Assert.Equal([1, 28, 28], json.GetProperty("inputShape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(10, json.GetProperty("classes").GetInt32());
        Assert.Equal(model.Layers.Count, json.GetProperty("layers").GetArrayLength());
        Assert.Equal("auto", json.GetProperty("preprocessing").GetProperty("reverse").GetString());
        Assert.Contains("digit's box", json.GetProperty("preprocessing").GetProperty("resize").GetString());
        Assert.Equal(0.11, json.GetProperty("training").GetProperty("bestValidMacroF1").GetDouble(), 6);
        Assert.Equal(ServeFixture.Card, json.GetProperty("card").GetString());
    }

    [Fact]
    public async Task PredictAnswersAsThePredictCommandsPathForPngAndJpegRawOrMultipart()
    {
        byte[] png = DigitPng(3), jpeg = DigitJpeg(7);
        var expected = ExpectedFromLoader(png, jpeg);

        var (status, json, text) = await Send(Client, HttpMethod.Post, "/api/predict", Raw(png));
        Assert.True(status == 200, text);
        AssertPrediction(json, expected[0]);
        Assert.False(json.TryGetProperty("name", out _));

        (status, json, text) = await Send(Client, HttpMethod.Post, "/api/predict", Raw(jpeg, "image/jpeg"));
        Assert.True(status == 200, text);
        AssertPrediction(json, expected[1]);

        (status, json, text) = await Send(Client, HttpMethod.Post, "/api/predict", Multipart(("three.png", png)));
        Assert.True(status == 200, text);
        AssertPrediction(json, expected[0]);
    }

    [Fact]
    public async Task PredictReturnsTheModelSizedInputItSaw()
    {
        byte[] png = DigitPng(5);
        var (status, json, _) = await Send(Client, HttpMethod.Post, "/api/predict", Raw(png));
        Assert.Equal(200, status);
        var input = json.GetProperty("input");
        Assert.Equal((1, 28, 28), (input.GetProperty("channels").GetInt32(), input.GetProperty("height").GetInt32(), input.GetProperty("width").GetInt32()));
        string url = input.GetProperty("png").GetString()!;
        Assert.StartsWith("data:image/png;base64,", url);
        var decoded = ImageResult.FromMemory(Convert.FromBase64String(url["data:image/png;base64,".Length..]), ColorComponents.Grey);
        Assert.Equal((28, 28), (decoded.Width, decoded.Height));

        // The same bytes as the pipeline makes from the file: inverted (reverse auto), cropped to the digit, resized.
        var content = Checkpoint.Read(server.CheckpointPath);
        var pipeline = new ImagePipeline(TrainingCheckpoint.ReadState(content.Metadata, server.CheckpointPath).Preprocessing);
        var values = new float[28 * 28];
        pipeline.Process(ImageDecoder.Decode(png, 1), null, values);
        Assert.Equal(values.Select(v => (byte)Math.Round(v * 255)), decoded.Data);
        Assert.True(decoded.Data[0] < 128, "the digit is light on dark after reverse: auto, so a corner is dark");
    }

    [Fact]
    public async Task BatchAnswersEachImageInOrderAndReportsBadOnesInPlace()
    {
        byte[] a = DigitPng(1), b = DigitPng(8, seed: 2);
        var expected = ExpectedFromLoader(a, b);
        var (status, json, text) = await Send(Client, HttpMethod.Post, "/api/predict/batch",
                                              Multipart(("a.png", a), ("notes.txt", "hello"u8.ToArray()), ("b.png", b)));
        Assert.True(status == 200, text);
        Assert.Equal(3, json.GetProperty("count").GetInt32());
        Assert.Equal(1, json.GetProperty("failed").GetInt32());
        var results = json.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["a.png", "notes.txt", "b.png"], results.Select(r => r.GetProperty("name").GetString()));
        AssertPrediction(results[0].GetProperty("prediction"), expected[0]);
        AssertPrediction(results[2].GetProperty("prediction"), expected[1]);
        Assert.Equal("notes.txt: not a PNG or JPEG image", results[1].GetProperty("error").GetString());
        Assert.False(results[1].TryGetProperty("prediction", out _));
    }

    public static TheoryData<string, int, string> BadInputs() => new()
    {
        { "empty body", 400, "has no image" },
        { "text", 400, "request body: not a PNG or JPEG image" },
        { "truncated PNG", 400, "truncated" },
        { "PNG with damaged data", 400, "cannot decode" },
        { "PNG declaring 3000x3000", 400, "declares 3000x3000 pixels" },
        { "JPEG declaring 60000x60000", 400, "declares 60000x60000 pixels" },
        { "body over the limit", 413, "over the limit of 1,048,576 bytes" },
        { "chunked body over the limit", 413, "over the limit of 1,048,576 bytes" },
        { "multipart without a file", 400, "has no image" },
        { "multipart without a boundary", 400, "no valid boundary" },
        { "multipart cut short", 400, "multipart/form-data body cannot be read" },
        { "two files to /api/predict", 400, "send one, or use /api/predict/batch" },
        { "batch over the image limit", 400, "more than the limit of 8" },
        { "batch with no file", 400, "has no image" },
    };

    static HttpContent BadContent(string kind)
    {
        byte[] png = DigitPng(2);
        switch (kind)
        {
            case "empty body": return Raw([]);
            case "text": return Raw("not an image"u8.ToArray(), "text/plain");
            case "truncated PNG": return Raw(png[..(png.Length / 2)]);
            case "PNG with damaged data":
                var damaged = (byte[])png.Clone();
                for (int i = 40; i < damaged.Length - 20; i++) damaged[i] ^= 0x5A;
                return Raw(damaged);
            case "PNG declaring 3000x3000": return Raw(HostileFiles.PngDeclaring(3000, 3000));
            case "JPEG declaring 60000x60000": return Raw(HostileFiles.JpegDeclaring(60000, 60000), "image/jpeg");
            case "body over the limit": return Raw(new byte[(1 << 20) + 1]);
            case "chunked body over the limit":
                var stream = new StreamContent(new NonSeekable(new byte[3 << 20]));
                stream.Headers.ContentType = new("image/png");
                return stream;
            case "multipart without a file":
                var fields = new MultipartFormDataContent { { new StringContent("3"), "digit" } };
                return fields;
            case "multipart without a boundary":
                var broken = Raw(png);
                broken.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data");
                broken.Headers.ContentType = new("multipart/form-data");
                return broken;
            case "multipart cut short":
                var cut = Raw("--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nabc"u8.ToArray());
                cut.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=xyz");
                return cut;
            case "two files to /api/predict": return Multipart(("a.png", png), ("b.png", png));
            case "batch over the image limit": return Multipart(Enumerable.Range(0, 9).Select(i => ($"{i}.png", png)).ToArray());
            case "batch with no file": return Raw([]);
            default: throw new ArgumentException(kind);
        }
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task BadInputGetsA4xxWithOneLineAndNoStackTrace(string kind, int expectedStatus, string expectedMessage)
    {
        string path = kind.StartsWith("batch") ? "/api/predict/batch" : "/api/predict";
        var (status, json, text) = await Send(Client, HttpMethod.Post, path, BadContent(kind));
        Assert.True(status == expectedStatus, $"{kind}: {status} {text}");
        string error = json.GetProperty("error").GetString()!;
        Assert.Contains(expectedMessage, error);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        // The server is still fine afterwards.
        Assert.Equal(200, (await Send(Client, HttpMethod.Get, "/api/health")).Status);
    }

    [Fact]
    public async Task WrongMethodsAndUnknownPathsAre4xx()
    {
        var wrong = await Send(Client, HttpMethod.Get, "/api/predict");
        Assert.Equal(405, wrong.Status);
        Assert.Equal("GET is not allowed here (see /openapi.json)", wrong.Json.GetProperty("error").GetString());
        Assert.Equal(405, (await Send(Client, HttpMethod.Post, "/api/health", Raw([1]))).Status);
        var (status, json, _) = await Send(Client, HttpMethod.Get, "/api/nothing");
        Assert.Equal(404, status);
        Assert.StartsWith("no such page", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ParallelRequestsGiveExactlyTheSingleThreadedAnswers()
    {
        var images = Enumerable.Range(0, 10).Select(d => DigitPng(d, seed: 9)).ToArray();
        var single = new List<float[]>();
        foreach (var image in images) single.Add(Probabilities((await Send(Client, HttpMethod.Post, "/api/predict", Raw(image))).Json));

        using var gate = new SemaphoreSlim(16);
        var tasks = Enumerable.Range(0, 120).Select(async i =>
        {
            await gate.WaitAsync();
            try { return (Index: i % images.Length, Answer: await Send(Client, HttpMethod.Post, "/api/predict", Raw(images[i % images.Length]))); }
            finally { gate.Release(); }
        }).ToArray();
        foreach (var (index, (status, json, text)) in await Task.WhenAll(tasks))
        {
            Assert.True(status == 200, text);
            Assert.Equal(single[index], Probabilities(json));   // bit for bit
        }
    }

    [Fact]
    public async Task OpenApiDocumentListsEveryRoute()
    {
        var (status, json, text) = await Send(Client, HttpMethod.Get, "/openapi.json");
        Assert.True(status == 200, text);
        Assert.StartsWith("3.", json.GetProperty("openapi").GetString());
        var paths = json.GetProperty("paths");
        foreach (string route in (string[])["/api/predict", "/api/predict/batch", "/api/health", "/api/model"])
            Assert.True(paths.TryGetProperty(route, out _), $"{route} is not in the OpenAPI document");
        Assert.True(paths.GetProperty("/api/predict").TryGetProperty("post", out var post));
        Assert.True(post.GetProperty("responses").TryGetProperty("413", out _));
    }

    [Fact]
    public async Task ThePageIsOneSelfContainedFile()
    {
        using var response = await Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<canvas id=\"pad\"", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
        Assert.DoesNotContain("@import", html);
        // The browser may load nothing from elsewhere.
        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task EveryRequestGetsOneLogLineWithStatusAndTime()
    {
        string marker = "/api/health?probe=" + Guid.NewGuid().ToString("N");
        await Send(Client, HttpMethod.Get, marker);
        await Send(Client, HttpMethod.Post, "/api/predict", Raw("x"u8.ToArray()));
        var lines = server.LogText.Split('\n');
        var line = Assert.Single(lines, l => l.Contains(marker));
        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} GET /api/health\?probe=\w+ 200 \d+\.\d ms 0 bytes", line.TrimEnd());
        Assert.Contains(lines, l => l.Contains("POST /api/predict 400"));
    }

    /// <summary>A stream without a length, so HttpClient sends it chunked.</summary>
    sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
