using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The trainer makes models learn, not just run: the adding problem, the copy task and a
/// character language model each beat the score of a model that ignores what it must remember.
/// All on the <c>cpu</c> device, each in a few seconds to a few tens of seconds.
/// </summary>
public class TrainerLearningTests(ITestOutputHelper output)
{
    private sealed class Log(ITestOutputHelper output, int every) : IProgress<TrainerProgress>
    {
        public void Report(TrainerProgress p)
        {
            if (p.ValidationLoss is not null || p.Step % every == 0)
                output.WriteLine($"step {p.Step}: train {p.TrainLoss:F4}, lr {p.LearningRate:g3}, |g| {p.GradNorm:F3}, val {p.ValidationLoss?.ToString("F4") ?? "-"}, {p.StepsPerSecond:F0} steps/s");
        }
    }

    [Fact]
    public void Adding_T50_ReachesValidationMseBelow001()
    {
        const int T = 50;
        var dev = TestDevices.Get("cpu");
        var train = new AddingTask(T, 10_000, seed: 1);
        var valid = new AddingTask(T, 500, seed: 2);
        using var model = new LSTMModel<float>(dev, inputSize: 2, hiddenSize: 32, numLayers: 1, outputSize: 1, seed: 3);
        var options = new TrainerOptions
        {
            Steps = 800, BatchSize = 64, Optimizer = OptimizerKind.Adam, LearningRate = 1e-2, ClipNorm = 1.0,
            Schedule = ScheduleKind.Cosine, MinLearningRate = 1e-3, ValidateEvery = 100, Patience = 0, RestoreBest = true,
            Loss = LossKind.Mse, Seed = 4, ValidationBatchSize = 500,
        };
        using var trainer = new Trainer<float>(model, train, valid, options) { Progress = new Log(output, 100) };
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        output.WriteLine($"{result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; best validation MSE {result.BestValidationLoss:F5} at step {result.BestStep} (answering 0.5 scores {1.0 / 24:F4})");
        // Seeds 3/4, 7, 8 and 9 all broke through by step 400 and ended near 5e-4.
        Assert.True(result.BestValidationLoss < 0.01, $"best validation MSE {result.BestValidationLoss} is not below 0.01");
    }

    [Fact]
    public void Copy_T20_BeatsTheMemorylessBaseline()
    {
        const int T = 20;
        var dev = TestDevices.Get("cpu");
        var train = new CopyTask(T, 10_000, seed: 1, oneHot: true);
        var valid = new CopyTask(T, 500, seed: 2, oneHot: true);
        using var model = new SequenceModel<float>(dev, CopyTask.Classes, hiddenSize: 64, numLayers: 1, outputSize: CopyTask.Classes, seed: 3);
        var options = new TrainerOptions
        {
            Steps = 3000, BatchSize = 32, Optimizer = OptimizerKind.Adam, LearningRate = 5e-3, ClipNorm = 1.0,
            ValidateEvery = 100, Loss = LossKind.CrossEntropy, Seed = 4, ValidationBatchSize = 500,
        };
        using var trainer = new Trainer<float>(model, train, valid, options) { Progress = new Log(output, 100) };
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        double baseline = 10 * Math.Log(8) / (T + 20);
        output.WriteLine($"{result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; best validation cross-entropy {result.BestValidationLoss:F4} at step {result.BestStep} (memoryless baseline {baseline:F4})");
        // A model that only learns the symbol frequencies plateaus at the baseline (here for ~1000 steps);
        // past it the model recalls symbols. Seeds 4, 7 and 8 ended at 0.4455, 0.4368 and 0.4163 (0.80–0.86 × baseline).
        Assert.True(result.BestValidationLoss < 0.9 * baseline, $"best validation cross-entropy {result.BestValidationLoss} is not below 0.9 × the memoryless baseline {baseline}");
    }

    [Fact]
    public void CharLanguageModel_LossFallsWellBelowLnVocab()
    {
        const string text =
            "it was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, " +
            "it was the epoch of belief, it was the epoch of incredulity, it was the season of light, it was the season of darkness. ";
        var dev = TestDevices.Get("cpu");
        string corpus = string.Concat(Enumerable.Repeat(text, 8));
        var vocab = CharVocabulary.FromText(corpus);
        var ids = vocab.Encode(corpus);
        int split = ids.Length * 7 / 8;
        var train = new CharTextDataset(ids[..split], steps: 32, stride: 7);
        var valid = new CharTextDataset(ids[split..], steps: 32);
        using var model = new CharLanguageModel<float>(dev, vocab.Size, embeddingDim: 16, hiddenSize: 64, numLayers: 1, seed: 1);
        var options = new TrainerOptions
        {
            Steps = 250, BatchSize = 16, Optimizer = OptimizerKind.AdamW, LearningRate = 1e-2, WeightDecay = 1e-4,
            WarmupSteps = 20, Schedule = ScheduleKind.Cosine, ClipNorm = 5, ValidateEvery = 50, Loss = LossKind.CrossEntropy, Seed = 2,
        };
        using var trainer = new Trainer<float>(model, train, valid, options) { Progress = new Log(output, 50) };
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        double lnV = Math.Log(vocab.Size);
        output.WriteLine($"{result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; best validation cross-entropy {result.BestValidationLoss:F4} at step {result.BestStep}; ln V = {lnV:F4} (V = {vocab.Size})");
        Assert.True(result.BestValidationLoss < 0.25 * lnV, $"best validation cross-entropy {result.BestValidationLoss} is not below a quarter of ln {vocab.Size}");
    }
}
