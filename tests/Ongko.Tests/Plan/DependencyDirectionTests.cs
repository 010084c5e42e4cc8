using System.Text.RegularExpressions;
using Ongko.Tests.Export;

namespace Ongko.Tests.Plan;

/// <summary>
/// The engine's folders depend only downwards: Tensors ← Kernels ← Layers ← Models (docs/ARCHITECTURE.md).
/// Checked on the sources: every "Ongko.X" a folder names (using or qualified) must be a folder below it.
/// </summary>
public class DependencyDirectionTests
{
    static readonly string[] Chain = ["Tensors", "Kernels", "Layers", "Models"];
    static readonly string[] Folders = ["Tensors", "Kernels", "Layers", "Models", "Training", "Data", "Vision", "Serialization", "Prediction", "Export"];

    [Fact]
    public void EngineFoldersDependOnlyOnTheFoldersBelowThem()
    {
        string source = Path.Combine(Path.GetDirectoryName(ExportModels.ConfigsDir())!, "src", "Ongko");
        var reference = new Regex(@"\bOngko\.([A-Z][A-Za-z]*)");
        for (int level = 0; level < Chain.Length; level++)
        {
            var allowed = Chain[..(level + 1)];
            var files = Directory.GetFiles(Path.Combine(source, Chain[level]), "*.cs", SearchOption.AllDirectories);
            Assert.NotEmpty(files);
            foreach (var file in files)
                foreach (Match match in reference.Matches(File.ReadAllText(file)))
                {
                    string folder = match.Groups[1].Value;
                    Assert.True(!Folders.Contains(folder) || allowed.Contains(folder),
                                $"{Path.GetRelativePath(source, file)} uses Ongko.{folder}, above {Chain[level]} in Tensors <- Kernels <- Layers <- Models");
                }
        }
    }
}
