using System.CommandLine;
using Ongko.Cli;
using Ongko.Cli.Commands;

var root = new RootCommand("Ongko: a from-scratch, vectorized CNN engine for Bengali handwritten digits")
{
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
    StripCommand.Create(),
    ServeCommand.Create(),
};
return CommandLine.Run(root, args);
