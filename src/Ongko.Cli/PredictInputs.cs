using Ongko.Data;

namespace Ongko.Cli;

/// <summary>
/// What <c>ongko predict</c> is pointed at — image files, folders (their .png/.jpg/.jpeg, not subfolders) and globs
/// (<c>*</c> and <c>?</c> in the last part, for shells that pass them through) — as one list of samples, in argument
/// order, each folder and glob sorted by name. A sample's name is its file name when there is one folder argument
/// (as predictions.csv always had), else the path as given.
/// </summary>
public static class PredictInputs
{
    public static List<Sample> Expand(IReadOnlyList<string> arguments)
    {
        if (arguments.Count == 0) throw new UsageException("give an image, several images, a folder or a glob");
        var samples = new List<Sample>();
        bool oneFolder = arguments.Count == 1 && Directory.Exists(arguments[0]);
        foreach (string argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                foreach (var sample in ImageFolderReader.Read(argument))
                    samples.Add(oneFolder ? sample : new Sample(sample.Path!, -1, sample.Source, Path.Combine(argument, sample.Name)));
                continue;
            }
            string leaf = Path.GetFileName(argument);
            if (leaf.IndexOfAny(['*', '?']) >= 0)
            {
                string folder = Path.GetDirectoryName(argument) is { Length: > 0 } d ? d : ".";
                if (folder.IndexOfAny(['*', '?']) >= 0) throw new UsageException($"{argument}: wildcards work in the last part of a path only");
                if (!Directory.Exists(folder)) throw new DataException("folder not found", folder);
                var matches = Directory.EnumerateFiles(folder, leaf).Where(ImageFolderReader.IsImageFile)
                                       .OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (matches.Count == 0) throw new DataException("no .png, .jpg or .jpeg image matches", argument);
                foreach (string file in matches) samples.Add(new Sample(file, -1, "input", Path.Combine(Path.GetDirectoryName(argument) ?? "", Path.GetFileName(file))));
                continue;
            }
            if (!File.Exists(argument)) throw new DataException("no such image file or folder", argument);
            samples.Add(new Sample(argument, -1, "input", arguments.Count == 1 ? Path.GetFileName(argument) : argument));
        }
        return samples;
    }
}

/// <summary>The model that ships with Ongko (models/ in the repository), found next to the program.</summary>
public static class ShippedModel
{
    public const string FileName = "ongko-digits.safetensors";

    /// <summary>models/ongko-digits.safetensors beside Ongko.Cli.dll (build, publish and dotnet tool install all put it there).</summary>
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "models", FileName);

    /// <summary>The shipped model's path; a clear error when this build of Ongko has none.</summary>
    public static string Require() => File.Exists(Path) ? Path
        : throw new UsageException($"no --checkpoint given and the shipped model is missing ({Path}); pass --checkpoint CKPT");

    /// <summary>Bengali numerals ০-৯ for digits 0-9.</summary>
    public static string Bengali(int digit) => digit is >= 0 and <= 9 ? ((char)('০' + digit)).ToString() : "?";
}
