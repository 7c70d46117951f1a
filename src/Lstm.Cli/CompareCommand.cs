using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm compare</c>: the options as <see cref="CellComparisonSettings"/>, then a
/// <see cref="CellComparison"/>'s rows (an RNN, an LSTM and a GRU) printed as a table.
/// </summary>
internal static class CompareCommand
{
    public static int Execute(CompareOptions o, TextWriter stdout)
    {
        var s = new CellComparisonSettings
        {
            Task = o.Task,
            SeqLen = o.SeqLen,
            Steps = o.Steps,
            Hidden = o.Hidden,
            Layers = o.Layers,
            BatchSize = o.BatchSize,
            LearningRate = o.LearningRate,
            Seed = o.Seed,
            Device = o.Device,
        };
        using var comparison = CellComparison.Open(s);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compare on {comparison.Data.Summary}; {s.Steps} steps, batch {s.BatchSize}, hidden {s.Hidden}, {s.Layers} layer{(s.Layers == 1 ? "" : "s")}, adam lr {s.LearningRate:G4}, clip {CellComparisonSettings.Clip}, seed {s.Seed}, on {comparison.Device}"));
        stdout.WriteLine($"{"cell",-9}{"parameters",12}{"final val loss",16}{"best val loss",15}{"time (s)",10}{"steps/s",10}");
        foreach (var cell in CellComparison.Cells)
        {
            var r = comparison.Train(cell);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.CellName,-9}{r.Parameters,12:N0}{Loss(r.FinalValidationLoss),16}{Loss(r.BestValidationLoss),15}{r.Seconds,10:F2}{r.StepsPerSecond,10:F1}"));
        }

        return Program.Ok;
    }

    private static string Loss(double? v) => v is { } x ? ProgressDisplay.FormatLoss(x) : "-";
}
