using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The sequence labeller learns its two synthetic tasks through the trainer on <c>cpu</c>: the
/// <c>label</c> task (a running sum modulo 3 per step) past 95 % per-step accuracy with the per-step
/// cross-entropy, and the <c>ctc</c> task (label sequences read out of noisy frames) under 10 %
/// label errors with CTC and greedy decoding, both on fresh validation sequences.
/// </summary>
public class LabellingLearningTests(ITestOutputHelper output)
{
    /// <summary>Per-step accuracy of a labeller on a per-step set.</summary>
    internal static double StepAccuracy(SequenceClassifier<float> model, LabelledSteps data)
    {
        var p = ClassProbabilities.Of(model, data, 250);
        long correct = 0, total = 0;
        int classes = model.OutputSize;
        for (int i = 0; i < data.Count; i++)
        {
            for (int t = 0; t < data.Targets[i].Length; t++, total++)
                correct += ClassProbabilities.Argmax([p[i].AsSpan(t * classes, classes).ToArray()])[0] == data.Targets[i][t] ? 1 : 0;
        }

        return (double)correct / total;
    }

    /// <summary>The greedy-decoded label error rate of a labeller on a CTC set.</summary>
    internal static double CtcErrorRate(SequenceClassifier<float> model, LabelledSteps data)
    {
        var p = ClassProbabilities.Of(model, data, 250);
        var decoded = p.Select(row => CtcDecoding.Greedy<double>(row, model.OutputSize)).ToList();
        return CtcDecoding.ErrorRate(decoded, data.Targets.ToList());
    }

    [Theory]
    [InlineData(3)]
    public void LabelTask_ReachesPerStepAccuracyAbove95(int seed)
    {
        var dev = TestDevices.Get("cpu");
        var train = LabelTask.Create(2000, seed: seed * 10 + 1);
        var valid = LabelTask.Create(300, seed: seed * 10 + 2);
        var config = ModelConfig.SequenceLabeller(CellKind.Lstm, LabelTask.Classes, hiddenSize: 24, vocabSize: LabelTask.Symbols, embeddingDim: 8);
        using var model = new SequenceClassifier<float>(dev, config, seed: seed);
        var options = new TrainerOptions
        {
            Steps = 300, BatchSize = 32, LearningRate = 1e-2, ClipNorm = 1.0, Loss = LossKind.CrossEntropy, Seed = seed, ValidateEvery = 100, RestoreBest = true,
        };
        using var trainer = new Trainer<float>(model, train, valid, options);
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        double accuracy = StepAccuracy(model, valid);
        output.WriteLine($"seed {seed}: {result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; per-step accuracy {accuracy:P2}");
        Assert.True(accuracy > 0.95, $"per-step accuracy {accuracy:P2} is not above 95 %");
    }

    [Theory]
    [InlineData(3)]
    public void CtcTask_ReachesLabelErrorRateUnder10Percent(int seed)
    {
        var dev = TestDevices.Get("cpu");
        var train = CtcTask.Create(2000, seed: seed * 10 + 1);
        var valid = CtcTask.Create(300, seed: seed * 10 + 2);
        var config = ModelConfig.SequenceLabeller(CellKind.Lstm, CtcTask.Labels + 1, hiddenSize: 24, inputSize: CtcTask.Features);
        using var model = new SequenceClassifier<float>(dev, config, seed: seed);
        var options = new TrainerOptions
        {
            Steps = 300, BatchSize = 32, LearningRate = 1e-2, ClipNorm = 1.0, Loss = LossKind.Ctc, Seed = seed, ValidateEvery = 100, RestoreBest = true,
        };
        using var trainer = new Trainer<float>(model, train, valid, options);
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        double errors = CtcErrorRate(model, valid);
        output.WriteLine($"seed {seed}: {result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; validation loss {result.BestValidationLoss:F4}; label error rate {errors:P2}");
        Assert.True(errors < 0.10, $"label error rate {errors:P2} is not under 10 %");
    }
}
