using System.Diagnostics;
using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm compare</c>: an RNN (tanh), an LSTM and a GRU trained one after another on the same
/// samples with the same seed, steps, batch size, optimizer and hidden size; one table row each,
/// every number measured.
/// </summary>
internal static class CompareCommand
{
    private static readonly CellKind[] Cells = [CellKind.RnnTanh, CellKind.Lstm, CellKind.Gru];

    public static int Execute(CompareOptions o, TextWriter stdout)
    {
        foreach (var (name, value) in new[] { ("--steps", o.Steps), ("--hidden", o.Hidden), ("--layers", o.Layers), ("--batch-size", o.BatchSize) })
        {
            if (value < 1)
                throw new LstmException($"{name} {value}: must be ≥ 1");
        }

        var spec = new DataSpec { Source = "task", Task = o.Task.Trim().ToLowerInvariant(), SeqLen = o.SeqLen, Seed = o.Seed };
        var data = spec.Prepare();
        if (o.BatchSize > data.Train.Count)
            throw new LstmException($"--batch-size {o.BatchSize}: larger than the {data.Train.Count} training samples");
        var training = new TrainerOptions
        {
            Steps = o.Steps,
            BatchSize = o.BatchSize,
            ValidationBatchSize = Math.Min(Math.Max(o.BatchSize, 256), data.Validation.Count),
            Optimizer = OptimizerKind.Adam,
            LearningRate = o.LearningRate,
            ClipNorm = 1.0,
            Loss = data.Tokens ? LossKind.CrossEntropy : LossKind.Mse,
            ValidateEvery = Math.Max(1, o.Steps / 10),
            Seed = o.Seed,
        };
        training.Validate();
        using var device = ComputeDevice.Open(o.Device);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compare on {data.Summary}; {o.Steps} steps, batch {o.BatchSize}, hidden {o.Hidden}, {o.Layers} layer{(o.Layers == 1 ? "" : "s")}, adam lr {o.LearningRate:G4}, clip 1, seed {o.Seed}, on {device}"));
        stdout.WriteLine($"{"cell",-9}{"parameters",12}{"final val loss",16}{"best val loss",15}{"time (s)",10}{"steps/s",10}");
        foreach (var cell in Cells)
        {
            var config = data.Tokens
                ? ModelConfig.LanguageModel(cell, data.Classes, 16, o.Hidden, o.Layers)
                : new ModelConfig(ModelKind.SequenceToOne, cell, data.Train.InputSize, o.Hidden, data.Train.TargetLength, o.Layers);
            using var model = new SequenceNetwork<float>(device, config, o.Seed);
            using var trainer = new Trainer<float>(model, data.Train, data.Validation, training);
            double? final = null;
            trainer.Progress = new Reporter<TrainerProgress>(p => final = p.ValidationLoss ?? final);
            var clock = Stopwatch.StartNew();
            var result = trainer.Run();
            double seconds = clock.Elapsed.TotalSeconds;
            long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Length);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ModelConfig.CellName(cell),-9}{parameters,12:N0}{Loss(final),16}{Loss(result.BestValidationLoss),15}{seconds,10:F2}{result.Steps / seconds,10:F1}"));
        }

        return Program.Ok;
    }

    private static string Loss(double? v) => v is { } x ? ProgressDisplay.FormatLoss(x) : "-";
}
