namespace Ongko.Tests.Cli;

/// <summary>The command calls itself ongko and says its version; the repository carries its licence files.</summary>
public class PackagingTests
{
    [Fact]
    public void HelpAndVersionNameTheCommandOngko()
    {
        var (code, output, error) = CliTests.Ongko("--help");
        Assert.True(code == 0, error);
        Assert.Contains("ongko [command] [options]", output);
        Assert.DoesNotContain("Ongko.Cli", output);
        (code, output, error) = CliTests.Ongko("--version");
        Assert.True(code == 0, error);
        Assert.StartsWith("0.1.0", output.Trim());
        (code, _, error) = CliTests.Ongko("trian");
        Assert.Equal(2, code);
        Assert.Contains("Run 'ongko --help'", error);
    }

    [Fact]
    public void LicenceAndNoticesAreThere()
    {
        string licence = File.ReadAllText(Serialization.ConfigKeysTests.RepositoryFile("LICENSE"));
        Assert.StartsWith("MIT License", licence);
        Assert.Contains("Ongko contributors", licence);
        string notices = File.ReadAllText(Serialization.ConfigKeysTests.RepositoryFile("THIRD-PARTY-NOTICES.md"));
        Assert.Contains("Bitstream Vera", notices);
        Assert.Contains("DejaVu", notices);
    }
}
