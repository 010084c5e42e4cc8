using Ongko.Cli.Synth;
using Ongko.Data;
using Ongko.Serialization;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests.Training;

/// <summary>A source's weight: each of its samples' loss and gradient scaled by it; checked by hand and through the loader.</summary>
public class SampleWeightTests
{
    [Fact]
    public void WeightedLossAndGradientMatchAHandComputation()
    {
        float[] raw = [2f, 0f, -1f, 0.5f, 1.5f, 0f];
        int[] labels = [0, 2];
        float[] weights = [1f, 0.25f];
        var loss = new CrossEntropyLoss { SampleWeights = weights };
        float value = loss.Forward(new Tensor((float[])raw.Clone(), 2, 3), labels);
        float[] δ = loss.Backward().Span.ToArray();

        double expectedLoss = 0;
        var expectedδ = new double[6];
        for (int n = 0; n < 2; n++)
        {
            double sum = 0;
            for (int c = 0; c < 3; c++) sum += Math.Exp(raw[n * 3 + c]);
            expectedLoss += weights[n] * (Math.Log(sum) - raw[n * 3 + labels[n]]) / 2;   // mean over the batch of w·ℓ
            for (int c = 0; c < 3; c++) expectedδ[n * 3 + c] = weights[n] * (Math.Exp(raw[n * 3 + c]) / sum - (c == labels[n] ? 1 : 0)) / 2;
        }
        Assert.Equal(expectedLoss, value, 5);
        for (int i = 0; i < 6; i++) Assert.Equal(expectedδ[i], δ[i], 6);

        // Without weights the same batch gives the plain mean; a weight scales its sample's loss, label smoothing included.
        var plain = new CrossEntropyLoss { LabelSmoothing = 0.1f };
        float one = plain.Forward(new Tensor([.. raw[3..]], 1, 3), [2]);
        var weighted = new CrossEntropyLoss { LabelSmoothing = 0.1f, SampleWeights = [0.3f] };
        Assert.Equal(0.3 * one, weighted.Forward(new Tensor([.. raw[3..]], 1, 3), [2]), 6);
    }

    [Fact]
    public void ASourcesWeightReachesItsTrainingBatchesOnly()
    {
        using var dir = new TempDirectory();
        SyntheticDigitsWriter.Write(dir.File("a"), 40, seed: 1, size: 20);
        SyntheticDigitsWriter.Write(dir.File("b"), 20, seed: 2, size: 20);
        var config = ConfigFile.Parse($$"""
            data_dir: '{{dir.Path}}'
            sources:
              - {type: folder_csv, path: a/training-s, csv: a/training-s.csv, use: train}
              - {type: folder_csv, path: b/training-s, csv: b/training-s.csv, use: train, weight: 0.5}
            augment: {img_shape: [20, 20]}
            model:
              - [Flatten, []]
              - [Linear, [10]]
            """, "w.yaml");
        Assert.Equal([1.0, 0.5], config.Sources.Select(s => s.Weight));
        var (train, _) = DataSource.ReadAndSplit(config.Sources, 10, 0.2, 42, dir.Path);
        Assert.Equal(40, train.Count(s => s.Weight == 1));
        Assert.Equal(20, train.Count(s => s.Weight == 0.5f));

        var loader = new DataLoader(train, config.Augment, batchSize: 16, shuffle: true, train: true, seed: 3, prefetch: 0);
        int weighted = 0;
        foreach (var batch in loader.Epoch(1))
        {
            if (batch.Weights is null) { Assert.All(batch.SampleIndices, i => Assert.Equal(1f, train[i].Weight)); continue; }
            for (int k = 0; k < batch.Count; k++)
            {
                Assert.Equal(train[batch.SampleIndices[k]].Weight, batch.Weights[k]);
                if (batch.Weights[k] == 0.5f) weighted++;
            }
        }
        Assert.Equal(20, weighted);
        // Validation batches are unweighted.
        Assert.All(new DataLoader(train, config.Augment, 16, shuffle: false, train: false, seed: 3, prefetch: 0).Epoch(1), b => Assert.Null(b.Weights));

        var again = ConfigFile.Parse(ConfigFile.ToYaml(config), "again.yaml");
        Assert.Equal([1.0, 0.5], again.Sources.Select(s => s.Weight));
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Parse("sources:\n  - {type: folder_csv, path: a, csv: a.csv, weight: 0}\n", "bad.yaml"));
        Assert.Contains("weight must be > 0", error.Message);
    }
}
