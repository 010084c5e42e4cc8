using System.Text.Json;
using Ongko.Models;
using Ongko.Prediction;
using Ongko.Serialization;
using Ongko.Serve;
using Ongko.Tensors;
using Ongko.Tests.Export;
using static Ongko.Tests.Serve.ServeFixture;

namespace Ongko.Tests.Serve;

/// <summary>Checkpoints other than a training run's: a plain <see cref="Checkpoint.Save"/> (no training state) is served too.</summary>
public sealed class ServeCheckpointTests
{
    [Fact]
    public async Task APlainSavedModelIsServedWithItsDefaultPreprocessing()
    {
        using var folder = new TempDirectory();
        var rows = new List<LayerSpec> { new("Flatten", [], 1, 0), new("Linear", ["10"], 2, 0), new("Softmax", [], 3, 0) };
        var model = LayerFactory.Create(rows, "plain").Build([1, 16, 16], new Rng(3));
        ExportModels.Randomize(model, new Rng(4));
        string path = folder.File("plain.safetensors");
        Checkpoint.Save(path, model);

        var options = new ServeOptions { Urls = ["http://127.0.0.1:0"], PoolSize = 2 };
        await using var app = DigitServer.Build(new RecognizerPool(ClassifierRecognizer.Load(path, 2, null)), options, TextWriter.Null);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        var (status, json, text) = await Send(client, HttpMethod.Get, "/api/model");
        Assert.True(status == 200, text);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("training").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("card").ValueKind);
        Assert.Equal("off", json.GetProperty("preprocessing").GetProperty("reverse").GetString());   // the page then draws light on dark
        Assert.Equal(model.ParameterCount, json.GetProperty("parameters").GetInt64());

        byte[] png = DigitPng(5, size: 40);
        (status, json, text) = await Send(client, HttpMethod.Post, "/api/predict", Raw(png));
        Assert.True(status == 200, text);
        Assert.Equal(DigitClassifier.Load(path).Classify(png).Probabilities, Probabilities(json));
        Assert.Equal(16, json.GetProperty("input").GetProperty("width").GetInt32());
        await app.StopAsync();
    }
}
