using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Ongko.Tests;

/// <summary>The README's "Use it from C#" program is compiled against the library and run, so it cannot rot.</summary>
public class ReadmeProgramTests
{
    [Fact]
    public async Task TheCSharpProgramInTheReadmeCompilesAndClassifiesItsImage()
    {
        string readme = File.ReadAllText(Serialization.ConfigKeysTests.RepositoryFile("README.md"));
        int section = readme.IndexOf("## Use it from C#", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no 'Use it from C#' section");
        var code = Regex.Match(readme[section..], "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(code.Success, "no ```csharp block in the section");

        using var dir = new TempDirectory();
        string[] libraries = ["Ongko.dll", "YamlDotNet.dll", "StbImageSharp.dll", "System.Numerics.Tensors.dll", "Google.Protobuf.dll"];
        string platform = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var references = platform.Split(Path.PathSeparator).Where(p => !libraries.Contains(Path.GetFileName(p)))
            .Concat(libraries.Select(name => Path.Combine(AppContext.BaseDirectory, name)))
            .Select(path => MetadataReference.CreateFromFile(path));
        var globalUsings = "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq;";
        var compilation = CSharpCompilation.Create("ReadmeProgram",
            [CSharpSyntaxTree.ParseText(globalUsings), CSharpSyntaxTree.ParseText(code.Groups[1].Value, new CSharpParseOptions(LanguageVersion.Latest))],
            references, new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var emitted = compilation.Emit(dir.File("ReadmeProgram.dll"));
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));

        foreach (var name in libraries) File.Copy(Path.Combine(AppContext.BaseDirectory, name), dir.File(name));
        File.WriteAllText(dir.File("ReadmeProgram.runtimeconfig.json"),
            "{\"runtimeOptions\": {\"tfm\": \"net10.0\", \"framework\": {\"name\": \"Microsoft.NETCore.App\", \"version\": \"" + Environment.Version.ToString(3) + "\"}}}");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = dir.Path, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dir.File("ReadmeProgram.dll"));
        using var process = Process.Start(start)!;
        var reading = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await process.WaitForExitAsync(limit.Token);
        string output = await reading, error = await errors;
        Assert.True(process.ExitCode == 0, output + error);
        Assert.Contains("epoch 3: validation accuracy", output);
        Assert.Contains("predicted 7 with probability", output);
        Assert.True(File.Exists(dir.File("bars.safetensors")));
    }
}
