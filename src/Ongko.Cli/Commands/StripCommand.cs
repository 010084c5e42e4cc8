using System.CommandLine;
using Ongko.Serialization;

namespace Ongko.Cli.Commands;

/// <summary>
/// <c>ongko strip CKPT -o OUT</c>: a weights-only copy of a checkpoint for shipping — the model, its weights and
/// BatchNorm statistics, and the metadata (architecture, preprocessing, classes, training record), without the
/// optimizer state (half the file for SGD with momentum, two thirds for Adam).
/// </summary>
public static class StripCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "checkpoint written by ongko train" };
        var output = new Option<string>("--output", "-o") { Description = "where to write the weights-only checkpoint", Required = true };
        var command = new Command("strip", "Write a weights-only copy of a checkpoint (no optimizer state), keeping its model and preprocessing")
            { checkpoint, output };
        command.SetGuardedAction(parse =>
        {
            string from = parse.GetValue(checkpoint)!, to = parse.GetValue(output)!;
            var content = Checkpoint.Read(from);
            var model = Checkpoint.LoadModel(from, content);
            var metadata = content.Metadata.Where(p => p.Key != "optimizer_steps").ToDictionary(p => p.Key, p => p.Value);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(to));
            if (folder is not null) Directory.CreateDirectory(folder);
            Checkpoint.Save(to, model, metadata);
            Console.WriteLine($"wrote {to} ({new FileInfo(to).Length / 1024.0 / 1024.0:F2} MB, {model.ParameterCount:#,0} parameters; was {new FileInfo(from).Length / 1024.0 / 1024.0:F2} MB)");
            return 0;
        });
        return command;
    }
}
