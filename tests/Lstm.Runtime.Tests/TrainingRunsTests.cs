using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>A training run driven by the runtime alone: its settings' rules, its folder and what it tells its observer.</summary>
public sealed class TrainingRunsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-training-runs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly TrainingRunSettings Small = new()
    {
        Data = new DataSpec { SeqLen = 6, TrainSamples = 32, ValidationSamples = 8 },
        Hidden = 4,
        Layers = 1,
        Steps = 4,
        BatchSize = 8,
        ValidateEvery = 2,
        Device = "cpu",
    };

    /// <summary>Runs the loop at once and records what it was shown; draws a placeholder file for the plot.</summary>
    private sealed class Recorder : ITrainingObserver
    {
        public TrainingRunStart? Start { get; private set; }

        public List<StepMetrics> Steps { get; } = [];

        public int Plots { get; private set; }

        public void Train(TrainingRunStart start, Action<Action<StepMetrics>> train)
        {
            Start = start;
            train(Steps.Add);
        }

        public void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title)
        {
            Plots++;
            File.WriteAllText(file, $"{title}: {records.Count}");
        }
    }

    public static TheoryData<TrainingRunSettings, string> BadSettings => new()
    {
        { Small with { Epochs = 2 }, "--steps 4 and --epochs 2: give one of them" },
        { Small with { Shards = "4,4" }, "--shards 4,4: needs --devices" },
        { Small with { Momentum = 0.9 }, "--momentum 0.9: applies to --optimizer sgd only" },
        { Small with { Device = null, Devices = "cpu,cpu", Shards = "5,4" }, "sum to 9, not to the batch size 8" },
        { Small with { Device = null, Placement = "cpu,cpu" }, "--placement cpu,cpu names 2 devices but the model has 1 layer (--layers): give one device per layer" },
        { Small with { LearningRate = -1 }, "--lr -1: must be a finite number ≥ 0" },
        { Small with { Resume = "somewhere" }, "--resume somewhere: continues with the run's own settings; data options, --layers, --hidden, --batch-size, --validate-every cannot be changed (only --device, --devices, --placement, --chunk-steps, --until-step, --log-every, --quiet, --lr, --clip, --on-nonfinite and --steps)" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Validate_NamesTheOptionAndTheRule(TrainingRunSettings settings, string message)
    {
        var e = Assert.Throws<LstmException>(settings.Validate);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1.5, 0, "gru", "--dropout 1.5: must lie in [0, 1)")]
    [InlineData(0, 2, "gru", "--proj-size 2: only an LSTM has a projection (--cell gru)")]
    [InlineData(0, 4, "lstm", "--proj-size 4: must be 0 (none) or lie in [1, --hidden 4)")]
    public void Start_ModelRulesOfTheLayer_AreNamedByTheirOption_AndLeaveNoFolder(double dropout, int proj, string cell, string message)
    {
        string run = Path.Combine(_dir, "bad");
        var e = Assert.Throws<LstmException>(() => TrainingRun.Start(Small with { Dropout = dropout, ProjSize = proj, Cell = cell, Out = run }, "lstm train", new Recorder()));
        Assert.Equal(message, e.Message);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void StartThenResume_WriteTheRunFolder_AndReportEveryStep()
    {
        string run = Path.Combine(_dir, "run");
        var first = new Recorder();
        var stopped = TrainingRun.Start(Small with { Out = run, UntilStep = 2 }, "lstm train --until-step 2", first);
        Assert.False(stopped.Finished);
        Assert.Null(stopped.PublishedFrom);
        Assert.Equal(2, stopped.Trainer.Steps);
        Assert.Equal((0L, 4L, false), (first.Start!.FirstStep, first.Start.TotalSteps, first.Start.Resumed));
        Assert.Equal(2L, first.Start.StopStep); // Progress and its ETA count to --until-step.
        Assert.Equal([1L, 2L], first.Steps.Select(m => m.Step));
        Assert.Equal("lstm train --until-step 2\n", File.ReadAllText(Path.Combine(run, RunFiles.Command)));

        var second = new Recorder();
        var done = TrainingRun.Resume(new TrainingRunSettings { Resume = run }, second);
        Assert.True(done.Finished);
        Assert.Equal(RunFiles.BestCheckpoint, done.PublishedFrom);
        Assert.Equal((2L, true), (second.Start!.FirstStep, second.Start.Resumed));
        Assert.Equal([3L, 4L], second.Steps.Select(m => m.Step));
        Assert.Equal(second.Steps[^1].TrainLoss, done.LastTrainLoss);
        Assert.True(second.Plots >= 1);
        foreach (var name in new[] { RunFiles.RunConfig, RunFiles.Metrics, RunFiles.Plot, RunFiles.LastCheckpoint, RunFiles.BestCheckpoint })
            Assert.True(File.Exists(Path.Combine(run, name)) || Directory.Exists(Path.Combine(run, name)), name);
        Assert.True(File.Exists(Path.Combine(run, RunFiles.ModelDirectory, RunFiles.Weights)));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(run, RunFiles.Metrics)).Length);
    }
}
