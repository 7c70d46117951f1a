using Lstm.Runtime.Checkpoints;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>Trains the seed's model on the built-in task.</summary>
internal static class TrainCommand
{
    public static int Execute(TrainOptions o, TextWriter stdout)
    {
        using var device = ComputeDevice.Open(o.Device);
        stdout.WriteLine($"training LSTMModel(input 1, hidden {o.Hidden}, layers {o.Layers}, output 1) on {device}");
        stdout.WriteLine($"task: next value of noisy sine waves, windows of {o.SeqLen}; batch {o.BatchSize}, SGD lr {o.LearningRate}, MSE loss, seed {o.Seed}");
        var settings = new SeedTrainingOptions(o.Hidden, o.Layers, o.Steps, o.BatchSize, o.SeqLen, o.LearningRate, o.Seed, o.LogEvery);
        using var model = SeedTrainer.Train(device, settings, p =>
            stdout.WriteLine($"step {p.Step,5}  train loss {p.TrainLoss:F5}  validation loss {p.ValidationLoss:F5}  {p.Elapsed.TotalSeconds,6:F1} s"));
        if (o.Save is { } path)
        {
            StateDict.Save(path, model.NamedParameters());
            stdout.WriteLine($"saved {path}");
        }

        return Program.Ok;
    }
}
