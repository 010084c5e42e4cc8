using System.Text.RegularExpressions;

namespace Ongko.Tests.Architecture;

/// <summary>
/// The library's folders form no cycle: each has a level, and a folder names (using or "Ongko.X.") only folders of
/// lower levels. The levels are the dependency table in docs/ARCHITECTURE.md.
/// </summary>
public class FolderCycleTests
{
    static readonly Dictionary<string, int> Level = new()
    {
        ["Tensors"] = 0, ["Kernels"] = 1, ["Vision"] = 1, ["Layers"] = 2, ["Data"] = 2, ["Models"] = 3,
        ["Training"] = 4, ["Serialization"] = 5, ["Reports"] = 6, ["Prediction"] = 6, ["Runs"] = 7,
    };

    [Fact]
    public void EveryFolderUsesOnlyFoldersBelowIt()
    {
        string source = Serialization.ConfigKeysTests.RepositoryFile(Path.Combine("src", "Ongko"));
        var reference = new Regex(@"\bOngko\.([A-Z][A-Za-z]*)");
        foreach (var directory in Directory.GetDirectories(source).Where(d => Path.GetFileName(d) is not ("bin" or "obj")))
        {
            string folder = Path.GetFileName(directory);
            Assert.True(Level.ContainsKey(folder), $"src/Ongko/{folder} is a new folder: give it a level here and a row in docs/ARCHITECTURE.md");
            foreach (var file in Directory.GetFiles(directory, "*.cs", SearchOption.AllDirectories))
                foreach (Match match in reference.Matches(File.ReadAllText(file)))
                {
                    string used = match.Groups[1].Value;
                    Assert.True(!Level.TryGetValue(used, out int level) || used == folder || level < Level[folder],
                                $"{Path.GetRelativePath(source, file)} uses Ongko.{used}, which is not below {folder}");
                }
        }
    }
}
