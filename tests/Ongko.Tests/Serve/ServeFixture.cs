using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Models;
using Ongko.Serialization;
using Ongko.Serve;
using Ongko.Tensors;
using Ongko.Tests.Export;
using Ongko.Training;
using SkiaSharp;

namespace Ongko.Tests.Serve;

/// <summary>
/// A small checkpoint (two convolutions, random weights, the numta28 preprocessing: grey 28x28, digit box, reverse auto)
/// served in-process by the real Kestrel server on a free loopback port, with a client and the request log.
/// </summary>
public sealed class ServeFixture : IDisposable
{
    public TempDirectory Folder { get; } = new();
    public string CheckpointPath { get; }
    public const string Card = "# Test model\n\nRandom weights, for the tests.\n\n| measure | value |\n|---|---|\n| accuracy | none |\n";
    public ServeOptions Options { get; }
    public WebApplication App { get; }
    public HttpClient Client { get; }
    public Uri Address { get; }
    readonly StringWriter logText = new();
    public TextWriter Log { get; }

    public ServeFixture()
    {
        CheckpointPath = Folder.File("small.safetensors");
        SaveSmallCheckpoint(CheckpointPath);
        File.WriteAllText(Folder.File("card.md"), Card);
        Log = TextWriter.Synchronized(logText);
        Options = new ServeOptions { Urls = ["http://127.0.0.1:0"], MaxBodyBytes = 1 << 20, MaxImagePixels = 4_000_000, MaxBatchImages = 8, PoolSize = 3 };
        App = DigitServer.Build(new RecognizerPool(ClassifierRecognizer.Load(CheckpointPath, Options.PoolSize, Folder.File("card.md"))), Options, Log);
        App.StartAsync().GetAwaiter().GetResult();
        Address = new Uri(App.Urls.Single());
        Client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string LogText { get { lock (Log) return logText.ToString(); } }

    /// <summary>Saves a small random-weight model as `ongko train` would (weights, preprocessing, one epoch of history).</summary>
    public static Sequential SaveSmallCheckpoint(string path)
    {
        var rows = new List<LayerSpec>();
        void Add(string kind, params object[] arguments) =>
            rows.Add(new LayerSpec(kind, arguments.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!).ToList(), rows.Count + 1, 0));
        Add("Conv2D", 1, 6, 5, 1, 2); Add("BatchNorm2D", 6); Add("ReLU"); Add("MaxPool2D", 2, 2);
        Add("Conv2D", 6, 12, 3, 1, 1); Add("ReLU"); Add("MaxPool2D", 2, 2);
        Add("Flatten"); Add("Linear", 10); Add("Softmax");
        var model = LayerFactory.Create(rows, "serve test model").Build([1, 28, 28], new Rng(5));
        ExportModels.Randomize(model, new Rng(6));
        var preprocessing = new AugmentOptions { Channels = 1, Height = 28, Width = 28, UseBoundingBox = true, Reverse = ReverseMode.Auto };
        var state = new TrainingState
        {
            Preprocessing = preprocessing, ClassCount = 10, LearningRate = 0.01f, CompletedEpochs = 1,
            History = [new EpochResult(1, 0.01f, 2.3, 0.1, 0.1, 2.3, 0.125, 0.11, 1, 100, true)],
        };
        Checkpoint.Save(path, model, TrainingCheckpoint.ToMetadata(state));
        return model;
    }

    /// <summary>A synthetic digit (dark ink on light paper) as a PNG.</summary>
    public static byte[] DigitPng(int digit, int seed = 1, int size = 64) =>
        SyntheticDigits.EncodePng(SyntheticDigits.Render(digit, SyntheticDigits.SampleSeed((ulong)seed, digit), size));

    /// <summary>The same digit as a JPEG.</summary>
    public static byte[] DigitJpeg(int digit, int seed = 1, int size = 64)
    {
        var image = SyntheticDigits.Render(digit, SyntheticDigits.SampleSeed((ulong)seed, digit), size);
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Gray8, SKAlphaType.Opaque));
        image.Pixels.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
        return data.ToArray();
    }

    public static ByteArrayContent Raw(byte[] bytes, string type = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    public static MultipartFormDataContent Multipart(params (string Name, byte[] Bytes)[] files)
    {
        var content = new MultipartFormDataContent();
        foreach (var (name, bytes) in files) content.Add(new ByteArrayContent(bytes), "image", name);
        return content;
    }

    public static async Task<(int Status, JsonElement Json, string Text)> Send(HttpClient client, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonElement json = default;
        if (response.Content.Headers.ContentType?.MediaType == "application/json") json = JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json, text);
    }

    public static float[] Probabilities(JsonElement prediction) =>
        prediction.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();

    public void Dispose()
    {
        Client.Dispose();
        App.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)App).Dispose();
        Folder.Dispose();
    }
}
