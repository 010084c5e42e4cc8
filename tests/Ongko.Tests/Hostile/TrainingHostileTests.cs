using Ongko.Tests.Cli;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 2: learning rates that cannot train, and training that diverges.</summary>
public class TrainingHostileTests
{
    [Theory]
    [InlineData("Infinity"), InlineData("inf"), InlineData("NaN"), InlineData("-0.1"), InlineData("0")]
    public void ALearningRateThatCannotTrainIsRefused(string lr)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("c.yaml"), "model:\n  - [Flatten]\n  - [Linear, [10]]\n");
        var (code, _, error) = CliTests.Ongko("train", "--config", dir.File("c.yaml"), "--lr", lr, "--output-dir", dir.File("run"));
        Assert.Equal(2, code);
        Assert.Contains("--lr", error);
        Assert.False(Directory.Exists(dir.File("run")));
    }
}
