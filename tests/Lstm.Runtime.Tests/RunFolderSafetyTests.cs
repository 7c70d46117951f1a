using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>
/// A run folder belongs to one process (its lock), a new run's clean-up removes only what it
/// made, and nothing is written through a symbolic link or over a special file.
/// </summary>
public sealed class RunFolderSafetyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-run-safety-").FullName;

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

    private sealed class Quiet : ITrainingObserver
    {
        public void Train(TrainingRunStart start, Action<Action<StepMetrics>> train) => train(_ => { });

        public void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title) => File.WriteAllText(file, "plot");
    }

    private string At(string name) => Path.Combine(_dir, name);

    [Fact]
    public void TheLock_IsExclusive_AndGoesWithItsHolder()
    {
        string run = At("locked");
        Directory.CreateDirectory(run);
        using (var held = RunFolderLock.Acquire(run, "--out"))
        {
            Assert.True(held.CreatedFile);
            var e = Assert.Throws<LstmException>(() => RunFolderLock.Acquire(run, "--resume"));
            Assert.Contains($"--resume {run}: another process is training in this run folder", e.Message, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(Path.Combine(run, RunFiles.Lock)));
        using var again = RunFolderLock.Acquire(run, "--out");
        Assert.True(again.CreatedFile);
    }

    [Fact]
    public void ALockFileAKilledRunLeft_IsTakenOver()
    {
        string run = At("left");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunFiles.Lock), "");
        using var held = RunFolderLock.Acquire(run, "--resume");
        Assert.False(held.CreatedFile);
    }

    [Fact]
    public void ASecondRun_OnAHeldFolder_IsRefusedAndChangesNothing()
    {
        string run = At("run");
        TrainingRun.Start(Small with { Out = run, UntilStep = 2 }, "lstm train", new Quiet());
        var before = RunFolderRecoveryTests.Snapshot(run);
        using (RunFolder.OpenForTraining(run))
        {
            var snapshot = RunFolderRecoveryTests.Snapshot(run);
            var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(new TrainingRunSettings { Resume = run, Device = "cpu" }, new Quiet()));
            Assert.Contains("another process is training in this run folder", e.Message, StringComparison.Ordinal);
            Assert.Equal(snapshot, RunFolderRecoveryTests.Snapshot(run));
        }

        Assert.Equal(before, RunFolderRecoveryTests.Snapshot(run));

        // A new run into an empty folder another process holds is refused the same way, and leaves it.
        string empty = At("empty");
        Directory.CreateDirectory(empty);
        using (RunFolderLock.Acquire(empty, "--out"))
        {
            var e = Assert.Throws<LstmException>(() => TrainingRun.Start(Small with { Out = empty }, "lstm train", new Quiet()));
            Assert.Contains("another process", e.Message, StringComparison.Ordinal);
            Assert.Equal([RunFiles.Lock], Directory.GetFileSystemEntries(empty).Select(Path.GetFileName));
        }
    }

    [Fact]
    public void Discard_RemovesOnlyWhatTheRunMade()
    {
        // A folder that was there stays; one the run made goes, with the parents it made.
        string existing = At("existing");
        Directory.CreateDirectory(existing);
        using (var folder = RunFolder.Create(existing))
        {
            folder.WriteText(RunFiles.Command, "x");
            Directory.CreateDirectory(folder[RunFiles.ModelDirectory]);
            folder.Discard();
        }

        Assert.True(Directory.Exists(existing));
        Assert.Empty(Directory.GetFileSystemEntries(existing));

        string nested = Path.Combine(_dir, "made", "deeper", "run");
        using (var folder = RunFolder.Create(nested))
        {
            folder.WriteText(RunFiles.Command, "x");
            File.WriteAllText(Path.Combine(_dir, "made", "someone-elses.txt"), "keep");
            folder.Discard();
        }

        Assert.False(Directory.Exists(Path.Combine(_dir, "made", "deeper")));
        Assert.Equal(["someone-elses.txt"], Directory.GetFileSystemEntries(Path.Combine(_dir, "made")).Select(Path.GetFileName));
    }

    [Fact]
    public void PathKinds_TellFilesFromLinksFoldersAndDevices()
    {
        string file = At("file.txt");
        File.WriteAllText(file, "x");
        string link = At("link.txt");
        File.CreateSymbolicLink(link, file);
        string dangling = At("dangling");
        File.CreateSymbolicLink(dangling, At("nowhere"));
        Assert.Equal(PathKind.File, PathKinds.Of(file));
        Assert.Equal(PathKind.SymbolicLink, PathKinds.Of(link));
        Assert.Equal(PathKind.SymbolicLink, PathKinds.Of(dangling));
        Assert.Equal(PathKind.Directory, PathKinds.Of(_dir));
        Assert.Equal(PathKind.Absent, PathKinds.Of(At("nowhere")));
        Assert.Equal(PathKind.Absent, PathKinds.Of(Path.Combine(file, "below")));
        if (OperatingSystem.IsLinux())
            Assert.Equal(PathKind.Special, PathKinds.Of("/dev/null"));
    }

    [Fact]
    public void AtomicFile_RefusesToReplaceALinkAFolderOrASpecialFile()
    {
        string target = At("target.txt");
        File.WriteAllText(target, "theirs");
        string link = At("out.json");
        File.CreateSymbolicLink(link, target);
        var e = Assert.Throws<LstmException>(() => AtomicFile.WriteAllText(link, "mine"));
        Assert.Contains($"{link}: cannot write: it is a symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Equal(PathKind.SymbolicLink, PathKinds.Of(link));
        Assert.Equal("theirs", File.ReadAllText(target));

        Assert.Contains("it is a directory", Assert.Throws<LstmException>(() => AtomicFile.WriteAllText(_dir, "x")).Message, StringComparison.Ordinal);
        Assert.Contains("--save", Assert.Throws<LstmException>(() => AtomicFile.CheckTarget(link, "--save")).Message, StringComparison.Ordinal);
        if (!OperatingSystem.IsLinux())
            return;
        // A device node is refused before anything is written (checked, never written, here).
        Assert.Contains("special file", Assert.Throws<LstmException>(() => AtomicFile.CheckTarget("/dev/null", "--output")).Message, StringComparison.Ordinal);
        string fifo = At("pipe");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
            mkfifo.WaitForExit();
        Assert.Equal(PathKind.Special, PathKinds.Of(fifo));
        Assert.Contains("special file (FIFO, socket or device)", Assert.Throws<LstmException>(() => AtomicFile.WriteAllText(fifo, "x")).Message, StringComparison.Ordinal);
        Assert.Equal(PathKind.Special, PathKinds.Of(fifo));
        Assert.Equal(["out.json", "pipe", "target.txt"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order());
    }

    [Theory]
    [InlineData(RunFiles.ModelDirectory)]
    [InlineData(RunFiles.LastCheckpoint)]
    [InlineData(RunFiles.Metrics)]
    public void ALinkInARunFolder_IsRefusedOnResume_AndNothingIsWrittenThroughIt(string name)
    {
        string run = At("run");
        TrainingRun.Start(Small with { Out = run, UntilStep = 2 }, "lstm train", new Quiet());
        string elsewhere = At("elsewhere");
        string entry = Path.Combine(run, name);
        if (Directory.Exists(entry))
        {
            Directory.Move(entry, elsewhere);
            Directory.CreateSymbolicLink(entry, elsewhere);
        }
        else
        {
            File.Move(entry, elsewhere);
            File.CreateSymbolicLink(entry, elsewhere);
        }

        var before = RunFolderRecoveryTests.Snapshot(_dir);
        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(new TrainingRunSettings { Resume = run, Device = "cpu" }, new Quiet()));
        Assert.Contains($"{entry} is a symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, RunFolderRecoveryTests.Snapshot(_dir));
    }

    [Fact]
    public void ALinkInsideACheckpoint_OrAsTheRunFolder_IsRefused()
    {
        string run = At("run");
        TrainingRun.Start(Small with { Out = run, UntilStep = 2 }, "lstm train", new Quiet());
        string config = Path.Combine(run, RunFiles.ModelDirectory, RunFiles.ModelConfig);
        string moved = At("model-config.json");
        File.Move(config, moved);
        File.CreateSymbolicLink(config, moved);
        var e = Assert.Throws<LstmException>(() => TrainingRun.Resume(new TrainingRunSettings { Resume = run, Device = "cpu" }, new Quiet()));
        Assert.Contains($"{config} is a symbolic link", e.Message, StringComparison.Ordinal);

        string link = At("run-link");
        Directory.CreateSymbolicLink(link, run);
        Assert.Contains("is a symbolic link", Assert.Throws<LstmException>(() => TrainingRun.Resume(new TrainingRunSettings { Resume = link, Device = "cpu" }, new Quiet())).Message, StringComparison.Ordinal);
        string emptyTarget = At("empty");
        Directory.CreateDirectory(emptyTarget);
        string outLink = At("out-link");
        Directory.CreateSymbolicLink(outLink, emptyTarget);
        Assert.Contains("is a symbolic link", Assert.Throws<LstmException>(() => TrainingRun.Start(Small with { Out = outLink }, "lstm train", new Quiet())).Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(emptyTarget));
    }

    [Fact]
    public void RunConfig_Differences_NameTheFields_ButNotTheDevices()
    {
        var spec = new DataSpec { SeqLen = 6 };
        var a = new RunConfig(new System.Text.Json.Nodes.JsonObject { ["hidden_size"] = 4 }, spec, new System.Text.Json.Nodes.JsonObject { ["lr"] = 0.01, ["steps"] = 10, ["devices"] = new System.Text.Json.Nodes.JsonArray("cpu") });
        var b = a with
        {
            Data = spec with { SeqLen = 8 },
            Training = new System.Text.Json.Nodes.JsonObject { ["lr"] = 0.010, ["steps"] = 12, ["shards"] = new System.Text.Json.Nodes.JsonArray(4, 4) },
        };
        Assert.Equal([("data.seq_len", "6", "8"), ("training.steps", "10", "12")], a.Differences(b));
        Assert.Empty(a.Differences(a));
    }
}
