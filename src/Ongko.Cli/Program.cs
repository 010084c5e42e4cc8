using System.CommandLine;
using System.CommandLine.Help;
using Ongko.Cli;
using Ongko.Cli.Commands;

// A plain Command named "ongko" rather than RootCommand, whose name would be the assembly's (Ongko.Cli) when run as a tool.
var root = new Command("ongko", "Ongko: a from-scratch, vectorized CNN engine for Bengali handwritten digits")
{
    new HelpOption(),
    new VersionOption(),
    DemoCommand.Create(),
    SummaryCommand.Create(),
    SynthCommand.Create(),
    PreviewCommand.Create(),
    TrainCommand.Create(),
    PredictCommand.Create(),
    BenchCommand.Create(),
    ExportCommand.Create(),
    PhotosetCommand.Create(),
    EvaluateCommand.Create(),
    PseudoLabelCommand.Create(),
    AuditCommand.Create(),
    StripCommand.Create(),
    ServeCommand.Create(),
};
return CommandLine.Run(root, args);
