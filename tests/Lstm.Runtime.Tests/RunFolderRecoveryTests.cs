using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>
/// A run folder left by an interrupted run (killed between a checkpoint's renames, during its
/// first checkpoint, between a metrics flush and a checkpoint, on a full disk) is resumed to the
/// model and metrics of a run that was never interrupted; damaged or edited runs are refused.
/// </summary>
public sealed class RunFolderRecoveryTests : IDisposable
{
    private const long TotalSteps = 12;
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-run-recovery-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly TrainingRunSettings Small = new()
    {
        Data = new DataSpec { SeqLen = 6, TrainSamples = 32, ValidationSamples = 8 },
        Hidden = 4,
        Layers = 1,
        Steps = (int)TotalSteps,
        BatchSize = 8,
        ValidateEvery = 3,
        CheckpointEvery = 4,
        Device = "cpu",
    };

    /// <summary>Runs the loop at once; keeps what it was told; may act after each step (<see cref="AfterStep"/>).</summary>
    private sealed class Recorder : ITrainingObserver
    {
        public TrainingRunStart? Start { get; private set; }

        public List<StepMetrics> Steps { get; } = [];

        public Action<StepMetrics>? AfterStep { get; init; }

        public void Train(TrainingRunStart start, Action<Action<StepMetrics>> train)
        {
            Start = start;
            train(m =>
            {
                Steps.Add(m);
                AfterStep?.Invoke(m);
            });
        }

        public void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title) => File.WriteAllText(file, $"{records.Count}");
    }

    private string Run(string name) => Path.Combine(_dir, name);

    private static TrainingRunSettings ResumeOf(string run, int? until = null) => new() { Resume = run, Device = "cpu", UntilStep = until };

    private static string Last(string run) => Path.Combine(run, RunFiles.LastCheckpoint);

    /// <summary>The final weights and the per-step losses of the run never interrupted.</summary>
    private (byte[] Weights, double[] Losses) Reference()
    {
        string run = Run("reference");
        TrainingRun.Start(Small with { Out = run }, "lstm train", new Recorder());
        return (File.ReadAllBytes(Path.Combine(run, RunFiles.ModelDirectory, RunFiles.Weights)), MetricsLog.Read(Path.Combine(run, RunFiles.Metrics)).Select(m => m.TrainLoss).ToArray());
    }

    /// <summary>Resumes to the end and checks the model is the reference's bit for bit and every step is recorded once, with the reference's loss.</summary>
    private Recorder ResumeToTheEnd(string run, long firstStep)
    {
        var (weights, losses) = Reference();
        var recorder = new Recorder();
        var result = TrainingRun.Resume(ResumeOf(run), recorder);
        Assert.True(result.Finished);
        Assert.Equal(firstStep, recorder.Start!.FirstStep);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(run, RunFiles.ModelDirectory, RunFiles.Weights)));
        var metrics = MetricsLog.Read(Path.Combine(run, RunFiles.Metrics));
        Assert.Equal(Enumerable.Range(1, (int)TotalSteps).Select(s => (long)s), metrics.Select(m => m.Step));
        Assert.Equal(losses, metrics.Select(m => m.TrainLoss));
        Assert.Empty(Directory.GetFileSystemEntries(run, ".*"));
        Assert.False(File.Exists(Path.Combine(run, RunFiles.Lock)));
        return recorder;
    }

    [Fact]
    public void KilledBetweenTheTwoRenames_ResumesFromTheNewCheckpoint()
    {
        string run = Run("renames");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string older = Run("step4");
        CopyDirectory(Last(run), older);
        TrainingRun.Resume(ResumeOf(run, 8), new Recorder());

        // last/ (step 4) renamed aside, the new checkpoint (step 8) complete under its temporary name.
        Directory.Move(Last(run), Path.Combine(run, ".last.tmp-00000000000a"));
        Directory.Move(older, Path.Combine(run, ".last.old-00000000000a"));
        Assert.Equal(Path.Combine(run, ".last.tmp-00000000000a"), TrainingCheckpoint.Locate(Last(run)));

        var recorder = ResumeToTheEnd(run, 8);
        Assert.Contains(recorder.Start!.Recovered!, n => n.Contains("step 8 was complete in .last.tmp-00000000000a", StringComparison.Ordinal));
        Assert.Contains(recorder.Start!.Recovered!, n => n.Contains("removed .last.old-00000000000a, the checkpoint of step 4", StringComparison.Ordinal));
    }

    [Fact]
    public void KilledAfterRenamingAside_WithTheNewOneIncomplete_ResumesFromTheOldOne_AndCutsTheMetrics()
    {
        string run = Run("aside");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string older = Run("step4");
        CopyDirectory(Last(run), older);
        TrainingRun.Resume(ResumeOf(run, 8), new Recorder());

        // The step-8 write had not reached its manifest; last/ (step 4) was renamed aside.
        string partial = Path.Combine(run, ".last.tmp-00000000000b");
        Directory.CreateDirectory(partial);
        File.Copy(Path.Combine(Last(run), RunFiles.Weights), Path.Combine(partial, RunFiles.Weights));
        Directory.Delete(Last(run), recursive: true);
        Directory.Move(older, Path.Combine(run, ".last.old-00000000000b"));
        Assert.Equal(8, MetricsLog.Read(Path.Combine(run, RunFiles.Metrics)).Count);

        var recorder = ResumeToTheEnd(run, 4);
        var notes = recorder.Start!.Recovered!;
        Assert.Contains(notes, n => n.Contains("step 4 had been renamed aside to .last.old-00000000000b", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("removed .last.tmp-00000000000b, a checkpoint whose write was interrupted", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("dropped the 4 records of steps 5-8", StringComparison.Ordinal));
    }

    [Fact]
    public void KilledDuringTheFirstCheckpoint_StartsAgainFromStepZero()
    {
        string run = Run("first");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string partial = Path.Combine(run, ".last.tmp-00000000000c");
        Directory.Move(Last(run), partial);
        File.Delete(Path.Combine(partial, RunFiles.Manifest));
        Directory.Delete(Path.Combine(run, RunFiles.BestCheckpoint), recursive: true);

        var notes = ResumeToTheEnd(run, 0).Start!.Recovered!;
        Assert.Contains(notes, n => n.Contains("none yet", StringComparison.Ordinal) && n.Contains("step 0", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("removed .last.tmp-00000000000c", StringComparison.Ordinal));
    }

    [Fact]
    public void KilledDuringAnAtomicWrite_ResumeRemovesItsTemporaryFile()
    {
        string run = Run("atomic");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string metrics = File.ReadAllText(Path.Combine(run, RunFiles.Metrics));
        File.WriteAllText(Path.Combine(run, ".metrics.tmp-0123456789ab.jsonl"), metrics[..(metrics.Length / 2)]);
        File.WriteAllText(Path.Combine(run, ".loss.tmp-0123456789ab.png"), "\x89PN");

        var result = TrainingRun.Resume(ResumeOf(run), new Recorder());

        Assert.True(result.Finished);
        Assert.Empty(Directory.GetFileSystemEntries(run, ".*", SearchOption.AllDirectories));
        Assert.Equal(Enumerable.Range(1, (int)TotalSteps).Select(s => (long)s), MetricsLog.Read(Path.Combine(run, RunFiles.Metrics)).Select(m => m.Step));
    }

    [Fact]
    public void StoppedBeforeItsSettings_CanBeStartedAgainInTheSameFolder()
    {
        string run = Run("early");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunFiles.Command), "lstm train\n");
        File.WriteAllText(Path.Combine(run, ".config.tmp-0123456789ab.json"), "{\"for");
        File.WriteAllText(Path.Combine(run, RunFiles.Lock), "");
        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(ResumeOf(run), new Recorder()));
        Assert.Contains("start it again with --out", e.Message, StringComparison.Ordinal);

        var result = TrainingRun.Start(Small with { Out = run }, "lstm train", new Recorder());
        Assert.True(result.Finished);
        Assert.Empty(Directory.GetFileSystemEntries(run, ".*"));
    }

    [Fact]
    public void TheMetricsOnDisk_AlwaysReachTheCheckpointsStep()
    {
        string run = Run("order");
        long checkedSteps = 0;
        var recorder = new Recorder
        {
            AfterStep = m =>
            {
                string manifest = Path.Combine(Last(run), RunFiles.Manifest);
                if (!File.Exists(manifest))
                    return;
                long checkpoint = TrainingCheckpoint.ReadManifest(Last(run)).Step;
                Assert.True(MetricsLog.Read(Path.Combine(run, RunFiles.Metrics)).Select(r => r.Step).DefaultIfEmpty().Max() >= checkpoint, $"step {m.Step}: last/ holds step {checkpoint}, ahead of metrics.jsonl");
                checkedSteps++;
            },
        };
        TrainingRun.Start(Small with { Out = run }, "lstm train", recorder);
        Assert.True(checkedSteps >= TotalSteps - 4);
    }

    [Fact]
    public void AFullDiskWhileFlushingTheMetrics_LeavesNoGapAfterResume()
    {
        string run = Run("full");
        string metrics = Path.Combine(run, RunFiles.Metrics);
        string saved = Run("metrics-as-flushed");
        var recorder = new Recorder
        {
            AfterStep = m =>
            {
                if (m.Step != 6)
                    return;
                // The disk fills: the next write of metrics.jsonl (before the step-8 checkpoint) fails.
                File.Move(metrics, saved);
                Directory.CreateDirectory(metrics);
            },
        };
        Assert.Throws<LstmException>(() => TrainingRun.Start(Small with { Out = run }, "lstm train", recorder));
        Assert.Equal(4, TrainingCheckpoint.ReadState(Last(run)).Step);

        // Space is freed: the file is as its last successful write left it.
        Directory.Delete(metrics);
        File.Move(saved, metrics);
        ResumeToTheEnd(run, 4);
    }

    [Theory]
    [InlineData(RunFiles.Weights, 200)]
    [InlineData(RunFiles.OptimizerState, 300)]
    [InlineData(RunFiles.TrainerState, 40)]
    [InlineData(RunFiles.RunConfigCopy, 60)]
    public void AFlippedBit_InACheckpointFile_IsNamedAndRefused(string file, int offset)
    {
        string run = Run("flip");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string path = Path.Combine(Last(run), file);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x08;
        File.WriteAllBytes(path, bytes);
        var before = Snapshot(run);

        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(ResumeOf(run), new Recorder()));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("damaged", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(run));
        Assert.Throws<LstmException>(() => TrainingCheckpoint.Locate(Last(run)));
    }

    [Fact]
    public void AFlippedBit_InTheManifest_IsRefused()
    {
        string run = Run("manifest");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string path = Path.Combine(Last(run), RunFiles.Manifest);
        string text = File.ReadAllText(path);
        int hash = text.IndexOf("\"model.safetensors\": \"", StringComparison.Ordinal) + 24;
        File.WriteAllText(path, text[..hash] + (char)(text[hash] ^ 0x01) + text[(hash + 1)..]);
        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(ResumeOf(run), new Recorder()));
        Assert.Contains(RunFiles.Weights, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("training", "lr", 0.5)]
    [InlineData("training", "steps", 20)]
    [InlineData("data", "seq_len", 7)]
    [InlineData("model", "hidden_size", 5)]
    public void AnEditedConfig_IsRefusedNamingTheField(string section, string key, double value)
    {
        string run = Run("edited");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string config = Path.Combine(run, RunFiles.RunConfig);
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        string was = json[section]![key]!.ToJsonString();
        json[section]![key] = value;
        File.WriteAllText(config, json.ToJsonString());
        var before = Snapshot(run);

        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(ResumeOf(run), new Recorder()));
        Assert.Contains($"{section}.{key} is {JsonValue.Create(value).ToJsonString()}, was {was}", e.Message, StringComparison.Ordinal);
        Assert.Contains("the checkpoint of step 4", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(run));
    }

    [Fact]
    public void AnEditedModelFile_IsRestoredFromTheCheckpoint()
    {
        string run = Run("model-edit");
        TrainingRun.Start(Small with { Out = run, UntilStep = 4 }, "lstm train", new Recorder());
        string modelConfig = Path.Combine(run, RunFiles.ModelDirectory, RunFiles.ModelConfig);
        string original = File.ReadAllText(modelConfig);
        File.WriteAllText(modelConfig, original.Replace("\"hidden_size\": 4", "\"hidden_size\": 9", StringComparison.Ordinal));
        var notes = ResumeToTheEnd(run, 4).Start!.Recovered!;
        Assert.Contains(notes, n => n.StartsWith("model/config.json: differed from the checkpoint's copy", StringComparison.Ordinal));
        Assert.Equal(original, File.ReadAllText(modelConfig));
    }

    [Fact]
    public void MetricsLog_Resume_SaysWhatItDroppedAndWhatIsMissing()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        var log = new MetricsLog(path);
        foreach (long s in new long[] { 1, 2, 4, 5, 6, 7 })
            log.Add(new StepMetrics(s, 0, 1.0 / s, null, 0.01, 0.1, s));
        log.Flush();
        var resumed = MetricsLog.Resume(path, 5);
        Assert.Equal([1L, 2L, 4L, 5L], resumed.Records.Select(r => r.Step));
        Assert.Contains(resumed.ResumeNotes, n => n.Contains("dropped the 2 records of steps 6-7", StringComparison.Ordinal));
        Assert.Contains(resumed.ResumeNotes, n => n.Contains("1 of the steps up to the checkpoint's step 5 have no record (the first is step 3)", StringComparison.Ordinal));
        Assert.DoesNotContain(MetricsLog.Resume(path, 5).ResumeNotes, n => n.Contains("dropped", StringComparison.Ordinal));
    }

    /// <summary>Every file under a folder and its bytes; a lock file (which its holder keeps from readers) by its presence alone.</summary>
    internal static Dictionary<string, byte[]> Snapshot(string directory) =>
        Directory.GetFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(directory, f), f => Path.GetFileName(f) == RunFiles.Lock ? [] : File.ReadAllBytes(f));

    internal static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
