using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>The trainer: exact resume, early stopping, atomic checkpoints and its checks of bad input.</summary>
public sealed class TrainerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lstm-trainer-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Collects every report synchronously.</summary>
    private sealed class Recorder : IProgress<TrainerProgress>
    {
        public List<TrainerProgress> Steps { get; } = [];

        public Action<TrainerProgress>? OnReport { get; init; }

        public void Report(TrainerProgress value)
        {
            Steps.Add(value);
            OnReport?.Invoke(value);
        }
    }

    /// <summary>Targets uniform in [0, 1] that do not depend on x: the validation loss cannot keep improving.</summary>
    private sealed class NoiseTargets(ISequenceDataset inner, int seed) : ISequenceDataset
    {
        public int Count => inner.Count;

        public int Steps => inner.Steps;

        public int InputSize => inner.InputSize;

        public int TargetLength => inner.TargetLength;

        public void Fill(int index, Span<double> x, Span<double> y)
        {
            inner.Fill(index, x, y);
            var rng = new Random(seed * 7919 + index);
            for (int i = 0; i < y.Length; i++)
                y[i] = rng.NextDouble();
        }
    }

    private static int[][] Bits(ISequenceModel<float> model) =>
        model.NamedParameters().Select(p => p.Parameter.Value.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray()).ToArray();

    private static long[] Bits(IEnumerable<double> values) => values.Select(BitConverter.DoubleToInt64Bits).ToArray();

    private static TrainerOptions ResumeOptions(string? checkpoints) => new()
    {
        Steps = 16, BatchSize = 8, Optimizer = OptimizerKind.Adam, LearningRate = 2e-2, WarmupSteps = 3, Schedule = ScheduleKind.Cosine,
        MinLearningRate = 1e-3, ClipNorm = 0.05, ValidateEvery = 4, Patience = 10, CheckpointDirectory = checkpoints, Loss = LossKind.Mse, Seed = 11,
    };

    /// <summary>cpu, ilgpu-cpu and every GPU present (all but cpu at a tiny size).</summary>
    public static IEnumerable<object[]> ResumeDevices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(ResumeDevices))]
    public void Resume_ContinuesBitwiseAsAnUninterruptedRun_AdamScheduleClippingDropout(string device)
    {
        var dev = TestDevices.Get(device);
        bool tiny = device != "cpu";
        int steps = tiny ? 4 : 12, hidden = tiny ? 4 : 16;
        // 100 samples in batches of 8: 12 per epoch, so 16 steps cross into a reshuffled second epoch.
        var train = new AddingTask(steps, tiny ? 20 : 100, seed: 1);
        var valid = new AddingTask(steps, 12, seed: 2);
        var options = ResumeOptions(Path.Combine(_root, "run")) with { Steps = tiny ? 6 : 16, ValidateEvery = tiny ? 2 : 4, BatchSize = tiny ? 4 : 8 };
        int half = options.Steps / 2;
        SequenceNetwork<float> NewModel(int seed) => new(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, InputSize: 2, HiddenSize: hidden, OutputSize: 1, NumLayers: 2, Dropout: 0.3), seed);

        // Dropout is live: two steps' seeds give two different outputs.
        using (var probe = NewModel(5))
        {
            using var x = Tensor<float>.FromArray(dev, Numerics.Uniform(new Random(3), 2 * steps * 2).Select(v => (float)v).ToArray(), 2, steps, 2);
            probe.DropoutSeed = Trainer<float>.DropoutSeedFor(options.Seed, 1);
            using var y1 = probe.Forward(x, training: true);
            probe.DropoutSeed = Trainer<float>.DropoutSeedFor(options.Seed, 2);
            using var y2 = probe.Forward(x, training: true);
            Assert.NotEqual(y1.ToArray(), y2.ToArray());
        }

        var whole = new Recorder();
        int[][] wholeWeights;
        using (var model = NewModel(5))
        using (var trainer = new Trainer<float>(model, train, valid, options with { CheckpointDirectory = null }) { Progress = whole })
        {
            trainer.Run();
            wholeWeights = Bits(model);
        }

        var first = new Recorder();
        using (var model = NewModel(5))
        using (var trainer = new Trainer<float>(model, train, valid, options) { Progress = first })
            Assert.Equal(half, trainer.Run(untilStep: half).Steps);

        var second = new Recorder();
        using (var model = NewModel(99)) // other initial weights: the checkpoint must replace them all
        using (var trainer = new Trainer<float>(model, train, valid, options) { Progress = second })
        {
            trainer.Resume(Path.Combine(options.CheckpointDirectory!, "last"));
            Assert.Equal(half, trainer.Step);
            trainer.Run();
            Assert.Equal(wholeWeights, Bits(model));
        }

        var resumed = first.Steps.Concat(second.Steps).ToList();
        Assert.Equal(whole.Steps.Select(s => s.Step), resumed.Select(s => s.Step));
        Assert.Equal(Bits(whole.Steps.Select(s => s.TrainLoss)), Bits(resumed.Select(s => s.TrainLoss)));
        Assert.Equal(Bits(whole.Steps.Select(s => s.LearningRate)), Bits(resumed.Select(s => s.LearningRate)));
        Assert.Equal(Bits(whole.Steps.Select(s => s.GradNorm)), Bits(resumed.Select(s => s.GradNorm)));
        Assert.Equal(whole.Steps.Select(s => s.ValidationLoss), resumed.Select(s => s.ValidationLoss));
        Assert.Contains(whole.Steps, s => s.GradNorm > options.ClipNorm); // clipping acted
        Assert.Contains(whole.Steps, s => s.Epoch == 1);
        output.WriteLine($"{device}: {whole.Steps.Count} steps, losses {string.Join(", ", whole.Steps.Select(s => s.TrainLoss.ToString("F5")))}");
    }

    [Fact]
    public void Resume_CharLanguageModel_SgdNesterov_ContinuesBitwise()
    {
        var dev = TestDevices.Get("cpu");
        string corpus = string.Concat(Enumerable.Repeat("abracadabra, said the cat. ", 6));
        var vocab = CharVocabulary.FromText(corpus);
        var train = new CharTextDataset(vocab.Encode(corpus), steps: 10, stride: 3);
        var options = new TrainerOptions
        {
            Steps = 10, BatchSize = 6, Optimizer = OptimizerKind.Sgd, LearningRate = 0.5, Momentum = 0.9, Nesterov = true, WeightDecay = 1e-4,
            Schedule = ScheduleKind.Step, ScheduleStepSize = 4, ScheduleGamma = 0.5, ClipNorm = 1, Loss = LossKind.CrossEntropy, Seed = 3,
            CheckpointDirectory = Path.Combine(_root, "lm"),
        };
        CharLanguageModel<float> NewModel(int seed) => new(dev, vocab.Size, embeddingDim: 6, hiddenSize: 12, numLayers: 2, seed);
        var whole = new Recorder();
        int[][] wholeWeights;
        using (var model = NewModel(1))
        using (var trainer = new Trainer<float>(model, train, null, options with { CheckpointDirectory = null }) { Progress = whole })
        {
            trainer.Run();
            wholeWeights = Bits(model);
        }

        var parts = new Recorder();
        using (var model = NewModel(1))
        using (var trainer = new Trainer<float>(model, train, null, options) { Progress = parts })
            trainer.Run(untilStep: 7);
        using (var model = NewModel(2))
        using (var trainer = new Trainer<float>(model, train, null, options) { Progress = parts })
        {
            trainer.Resume(Path.Combine(options.CheckpointDirectory, "last"));
            trainer.Run();
            Assert.Equal(wholeWeights, Bits(model));
        }

        Assert.Equal(Bits(whole.Steps.Select(s => s.TrainLoss)), Bits(parts.Steps.Select(s => s.TrainLoss)));
        Assert.True(whole.Steps[^1].TrainLoss < whole.Steps[0].TrainLoss, "the loss did not fall");
    }

    [Fact]
    public void EarlyStopping_StopsAfterPatienceValidationsWithoutImprovement_BestHoldsTheBestWeights()
    {
        var dev = TestDevices.Get("cpu");
        var train = new AddingTask(8, 200, seed: 1);
        var valid = new NoiseTargets(new AddingTask(8, 40, seed: 2), seed: 3);
        const int patience = 3;
        var options = new TrainerOptions
        {
            Steps = 300, BatchSize = 16, Optimizer = OptimizerKind.Adam, LearningRate = 5e-2, ValidateEvery = 2, Patience = patience,
            RestoreBest = true, CheckpointDirectory = Path.Combine(_root, "early"), Loss = LossKind.Mse, Seed = 4,
        };
        using var model = new LSTMModel<float>(dev, 2, 8, 1, 1, seed: 5);
        var weightsAt = new Dictionary<long, int[][]>();
        var recorder = new Recorder { OnReport = p => { if (p.ValidationLoss is not null) weightsAt[p.Step] = Bits(model); } };
        using var trainer = new Trainer<float>(model, train, valid, options) { Progress = recorder };
        var result = trainer.Run();

        // The stop the rule predicts from the validation losses seen.
        var validations = recorder.Steps.Where(s => s.ValidationLoss is not null).ToList();
        double best = double.PositiveInfinity;
        long bestStep = 0, expectedStop = 0;
        int without = 0;
        foreach (var v in validations)
        {
            if (v.ValidationLoss!.Value < best)
            {
                (best, bestStep, without) = (v.ValidationLoss.Value, v.Step, 0);
            }
            else if (++without == patience)
            {
                expectedStop = v.Step;
                break;
            }
        }

        output.WriteLine($"validation losses: {string.Join(", ", validations.Select(v => $"{v.Step}:{v.ValidationLoss:F5}"))}; stopped at {result.Steps}, best {result.BestValidationLoss:F5} at {result.BestStep}");
        Assert.True(result.StoppedEarly);
        Assert.True(expectedStop > 0, "the validation losses never went patience validations without improving");
        Assert.Equal(expectedStop, result.Steps);
        Assert.Equal(expectedStop, recorder.Steps[^1].Step);
        Assert.Equal(bestStep, result.BestStep);
        Assert.Equal(best, result.BestValidationLoss);

        // best/ holds the best step's weights and state; RestoreBest put them back into the model; last/ the stopping step.
        string bestDir = Path.Combine(options.CheckpointDirectory, "best");
        var bestState = TrainingCheckpoint.ReadState(bestDir);
        Assert.Equal(bestStep, bestState.Step);
        Assert.Equal(best, bestState.BestValidationLoss);
        var file = SafeTensorsFile.Read(Path.Combine(bestDir, "model.safetensors"));
        var saved = model.NamedParameters().Select(p => file.Get(p.Name).ToFloat32().Select(BitConverter.SingleToInt32Bits).ToArray()).ToArray();
        Assert.Equal(weightsAt[bestStep], saved);
        Assert.Equal(weightsAt[bestStep], Bits(model));
        var lastState = TrainingCheckpoint.ReadState(Path.Combine(options.CheckpointDirectory, "last"));
        Assert.Equal(expectedStop, lastState.Step);
        Assert.True(lastState.StoppedEarly);
        Assert.Equal(patience, lastState.ValidationsWithoutImprovement);

        // A trainer resumed from last/ knows it has stopped.
        using var again = new LSTMModel<float>(dev, 2, 8, 1, 1, seed: 6);
        using var resumed = new Trainer<float>(again, train, valid, options);
        resumed.Resume(Path.Combine(options.CheckpointDirectory, "last"));
        Assert.True(resumed.StoppedEarly);
        Assert.Equal(expectedStop, resumed.Run().Steps);
    }

    [Fact]
    public void EarlyStopping_ResumedBeforeTheStop_StopsAtTheSameStepAndRestoresTheSameBestWeights()
    {
        var dev = TestDevices.Get("cpu");
        var train = new AddingTask(8, 200, seed: 1);
        var valid = new NoiseTargets(new AddingTask(8, 40, seed: 2), seed: 3);
        var options = new TrainerOptions
        {
            Steps = 300, BatchSize = 16, Optimizer = OptimizerKind.Adam, LearningRate = 5e-2, ValidateEvery = 2, Patience = 3,
            RestoreBest = true, Loss = LossKind.Mse, Seed = 4,
        };
        TrainerResult whole;
        int[][] wholeWeights;
        using (var model = new LSTMModel<float>(dev, 2, 8, 1, 1, seed: 5))
        using (var trainer = new Trainer<float>(model, train, valid, options with { CheckpointDirectory = Path.Combine(_root, "whole") }))
        {
            whole = trainer.Run();
            wholeWeights = Bits(model);
        }

        Assert.True(whole.StoppedEarly);
        Assert.True(whole.Steps > whole.BestStep + 2, "the run must stop some validations after its best");
        var split = options with { CheckpointDirectory = Path.Combine(_root, "split") };
        using (var model = new LSTMModel<float>(dev, 2, 8, 1, 1, seed: 5))
        using (var trainer = new Trainer<float>(model, train, valid, split))
            trainer.Run(untilStep: whole.BestStep + 2);
        using (var model = new LSTMModel<float>(dev, 2, 8, 1, 1, seed: 6))
        using (var trainer = new Trainer<float>(model, train, valid, split))
        {
            trainer.Resume(Path.Combine(split.CheckpointDirectory!, "last"));
            var result = trainer.Run();
            Assert.Equal(whole.Steps, result.Steps);
            Assert.Equal(whole.BestStep, result.BestStep);
            Assert.Equal(whole.BestValidationLoss, result.BestValidationLoss);
            Assert.Equal(wholeWeights, Bits(model));
        }
    }

    [Fact]
    public void Epochs_SetTheStepsFromFullBatchesPerEpoch()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new LSTMModel<float>(dev, 2, 4, 1, 1, seed: 1);
        var recorder = new Recorder();
        // 23 samples in batches of 5: 4 full batches per epoch, the last 3 samples dropped.
        using var trainer = new Trainer<float>(model, new AddingTask(4, 23, seed: 1), null, new TrainerOptions { Epochs = 3, BatchSize = 5 }) { Progress = recorder };
        Assert.Equal(12, trainer.TotalSteps);
        Assert.Equal(12, trainer.Run().Steps);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], recorder.Steps.Select(s => s.Epoch));
    }

    private (Trainer<float> Trainer, LSTMModel<float> Model, TrainerOptions Options) SmallTrainer(string name, params string[] extraFiles)
    {
        var dev = TestDevices.Get("cpu");
        var options = new TrainerOptions
        {
            Steps = 10, BatchSize = 4, LearningRate = 1e-2, CheckpointEvery = 2, CheckpointDirectory = Path.Combine(_root, name),
            ExtraFiles = extraFiles, Seed = 1,
        };
        var model = new LSTMModel<float>(dev, 2, 4, 1, 1, seed: 2);
        return (new Trainer<float>(model, new AddingTask(5, 20, seed: 1), null, options), model, options);
    }

    private static Dictionary<string, byte[]> Snapshot(string directory) =>
        Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("optimizer.safetensors")]
    [InlineData("config.json")]
    [InlineData("trainer.json")]
    public void Checkpoint_FailureWhileWriting_LeavesThePreviousCheckpointIntact(string failAfter)
    {
        string config = Path.Combine(_root, "config.json");
        File.WriteAllText(config, """{"hidden_size": 4}""");
        var (trainer, model, options) = SmallTrainer("atomic", config);
        using (model)
        using (trainer)
        {
            trainer.Run(untilStep: 2);
            string last = Path.Combine(options.CheckpointDirectory!, "last");
            var before = Snapshot(last);
            Assert.Equal(["config.json", "manifest.json", "model.safetensors", "optimizer.safetensors", "trainer.json"], before.Keys.Order());

            trainer.CheckpointFault = name =>
            {
                if (name == failAfter)
                    throw new IOException("injected failure");
            };
            var e = Assert.Throws<LstmException>(() => trainer.Run(untilStep: 4));
            Assert.Contains("injected failure", e.Message);
            Assert.Contains("previous one is kept", e.Message);
            Assert.Equal(before, Snapshot(last));
            Assert.Equal(["last"], Directory.GetFileSystemEntries(options.CheckpointDirectory!).Select(Path.GetFileName));
            Assert.Equal(2, TrainingCheckpoint.ReadState(last).Step);

            // The failure passes; the next checkpoint replaces the old one.
            trainer.CheckpointFault = null;
            trainer.Run(untilStep: 6);
            Assert.Equal(6, TrainingCheckpoint.ReadState(last).Step);
        }
    }

    [Fact]
    public void Checkpoint_MissingExtraFile_FailsClearly_PreviousKept()
    {
        string stats = Path.Combine(_root, "stats.json");
        File.WriteAllText(stats, "{}");
        var (trainer, model, options) = SmallTrainer("extra", stats);
        using (model)
        using (trainer)
        {
            trainer.Run(untilStep: 2);
            string last = Path.Combine(options.CheckpointDirectory!, "last");
            var before = Snapshot(last);
            Assert.Equal("{}", File.ReadAllText(Path.Combine(last, "stats.json")));
            File.Delete(stats);
            var e = Assert.Throws<LstmException>(() => trainer.Run(untilStep: 4));
            Assert.Contains("stats.json", e.Message);
            Assert.Equal(before, Snapshot(last));
        }
    }

    [Fact]
    public void Checkpoint_CrashBetweenRenames_ResumeFindsThePreviousCheckpoint()
    {
        var (trainer, model, options) = SmallTrainer("crash");
        string last = Path.Combine(options.CheckpointDirectory!, "last");
        using (model)
        using (trainer)
            trainer.Run(untilStep: 4);

        // A crash after renaming last/ aside and before renaming the new one into place.
        string aside = Path.Combine(options.CheckpointDirectory!, ".last.old-0123456789ab");
        Directory.Move(last, aside);
        Directory.CreateDirectory(Path.Combine(options.CheckpointDirectory!, ".last.tmp-0123456789ab"));
        Assert.Equal(aside, TrainingCheckpoint.Locate(last));

        var (again, model2, _) = SmallTrainer("crash");
        using (model2)
        using (again)
        {
            again.Resume(last);
            Assert.Equal(4, again.Step);
            again.Run(untilStep: 6);
        }

        Assert.Equal(6, TrainingCheckpoint.ReadState(last).Step);
        Assert.Equal(["last"], Directory.GetFileSystemEntries(options.CheckpointDirectory!).Select(Path.GetFileName));
    }

    [Fact]
    public void Checkpoint_HoldsPyTorchNamesOptimizerStateAndTrainerState()
    {
        var (trainer, model, options) = SmallTrainer("names");
        using (model)
        using (trainer)
        {
            trainer.Run(untilStep: 3);
            string last = Path.Combine(options.CheckpointDirectory!, "last");
            var weights = SafeTensorsFile.Read(Path.Combine(last, "model.safetensors"));
            Assert.Equal(["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "fc.weight", "fc.bias"], weights.Tensors.Select(t => t.Name));
            var optimizer = SafeTensorsFile.Read(Path.Combine(last, "optimizer.safetensors"));
            Assert.Equal("adam", optimizer.Metadata["optim.type"]);
            Assert.Equal("3", optimizer.Metadata["optim.step"]);
            Assert.True(optimizer.Contains("optim.lstm.weight_ih_l0.exp_avg_sq"));
            var state = TrainingCheckpoint.ReadState(last);
            Assert.Equal(3, state.Step);
            Assert.Equal(trainer.Position, state.TrainPosition);
            Assert.Equal(Trainer<float>.DropoutSeedFor(1, 4), state.NextDropoutSeed);
            Assert.Equal("float32", state.DType);
        }
    }

    [Fact]
    public void Trainer_RejectsTargetsThatDoNotFitTheModelAndLoss()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceModel<float>(dev, 2, 4, 1, 1, seed: 1);
        var adding = new AddingTask(6, 10, seed: 1);
        var e = Assert.Throws<LstmException>(() => new Trainer<float>(model, adding, null, new TrainerOptions { BatchSize = 2 }));
        Assert.Contains("target values", e.Message);
        using var lastStep = new LSTMModel<float>(dev, 2, 4, 1, 1, seed: 1);
        e = Assert.Throws<LstmException>(() => new Trainer<float>(lastStep, adding, null, new TrainerOptions { BatchSize = 2, Patience = 2 }));
        Assert.Contains("validation set", e.Message);
        e = Assert.Throws<LstmException>(() => new Trainer<float>(lastStep, adding, null, new TrainerOptions { BatchSize = 11 }));
        Assert.Contains("batch size 11", e.Message);
        e = Assert.Throws<LstmException>(() => new Trainer<float>(lastStep, adding, null, new TrainerOptions { ClipNorm = -1 }));
        Assert.Contains("clip norm", e.Message);
        e = Assert.Throws<LstmException>(() => new Trainer<float>(lastStep, adding, null, new TrainerOptions { BatchSize = 2, ExtraFiles = [Path.Combine(_root, "nope.json")] }));
        Assert.Contains("nope.json", e.Message);
    }

    [Fact]
    public void Resume_ThrowsOnAnotherRunsCheckpoint()
    {
        var (trainer, model, options) = SmallTrainer("other");
        using (model)
        using (trainer)
            trainer.Run(untilStep: 2);
        var dev = TestDevices.Get("cpu");
        using var model2 = new LSTMModel<float>(dev, 2, 4, 1, 1, seed: 2);
        using var other = new Trainer<float>(model2, new AddingTask(5, 20, seed: 1), null, options with { Seed = 2 });
        var e = Assert.Throws<LstmException>(() => other.Resume(Path.Combine(options.CheckpointDirectory!, "last")));
        Assert.Contains("seed 1", e.Message);
        e = Assert.Throws<LstmException>(() => other.Resume(Path.Combine(_root, "missing", "last")));
        Assert.Contains("no checkpoint", e.Message);
    }
}
