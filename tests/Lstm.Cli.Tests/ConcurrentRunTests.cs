using Lstm.Runtime.Persistence;

namespace Lstm.Cli.Tests;

/// <summary>
/// Two <c>lstm train</c> processes on one run folder: exactly one trains, the other is refused
/// with exit 2 before it changes anything, and the folder is the first one's, whole.
/// </summary>
public sealed class ConcurrentRunTests : CliRunner
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static string[] Train(string run, int steps) =>
    [
        "train", "--device", "cpu", "--task", "sine", "--seq-len", "8", "--train-samples", "64", "--val-samples", "16",
        "--hidden", "8", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch-size", "8",
        "--validate-every", "10", "--checkpoint-every", "10", "--log-every", "1", "--out", run,
    ];

    [Fact]
    public void TwoRunsStartedTogether_OneIsRefused_TheOtherFolderIsIntact()
    {
        for (int round = 0; round < 3; round++)
        {
            string run = At($"run{round}");
            using var a = LstmProcess.Start(Dir, Train(run, 40));
            using var b = LstmProcess.Start(Dir, Train(run, 40));
            int codeA = a.WaitForExit(Patience), codeB = b.WaitForExit(Patience);
            Assert.True(new[] { codeA, codeB }.Order().SequenceEqual([Program.Ok, Program.BadInput]), $"exit codes {codeA} and {codeB}:\n{a.Err}\n{b.Err}");
            var refused = codeA == Program.BadInput ? a : b;
            Assert.Matches($"^error: --out {System.Text.RegularExpressions.Regex.Escape(run)}: (another process is training in this run folder|the folder exists and is not empty)", refused.Err);
            Assert.DoesNotContain("step 1/", refused.Out, StringComparison.Ordinal);

            var metrics = Metrics(run);
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), metrics.Select(m => m.GetProperty("step").GetInt64()));
            TrainingCheckpoint.Verify(Path.Combine(run, "last"));
            TrainingCheckpoint.Verify(Path.Combine(run, "best"));
            Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));
            Assert.True(File.Exists(Path.Combine(run, "command.txt")));
            Assert.False(File.Exists(Path.Combine(run, "run.lock")));
            Assert.Empty(Directory.GetFileSystemEntries(run, ".*", SearchOption.AllDirectories));
        }
    }

    [Fact]
    public void AResumeWhileAnotherProcessTrains_IsRefusedAtOnce()
    {
        string run = At("run");
        using var training = LstmProcess.Start(Dir, Train(run, 100000));
        Assert.True(training.WaitForStep(12, Patience), training.Err);

        var (code, stdout, stderr) = Run("train", "--resume", run, "--device", "cpu");
        Assert.True(code == Program.BadInput, $"exit {code}: {stderr}\n{stdout}");
        Assert.StartsWith($"error: --resume {run}: another process is training in this run folder", stderr, StringComparison.Ordinal);
        (code, _, stderr) = Run(Train(run, 10));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("not empty", stderr, StringComparison.Ordinal);
        Assert.False(training.HasExited, "the first run goes on");
        training.Kill();

        // Killed, it left its lock file; the OS dropped the lock, so the run resumes.
        Assert.True(File.Exists(Path.Combine(run, "run.lock")));
        // Past every step the killed run reached (its metrics may run ahead of its last checkpoint).
        int until = (int)ReachedStep(run) + 5;
        (code, stdout, stderr) = Run("train", "--resume", run, "--device", "cpu", "--until-step", until.ToString(System.Globalization.CultureInfo.InvariantCulture), "--quiet");
        Assert.True(code == Program.Ok, $"exit {code}: {stderr}\n{stdout}");
        Assert.Equal(Enumerable.Range(1, until).Select(i => (long)i), Metrics(run).Select(m => m.GetProperty("step").GetInt64()));
    }

    /// <summary>The last step in metrics.jsonl of a killed run (a line cut short by the kill is skipped).</summary>
    private static long ReachedStep(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l =>
        {
            try
            {
                return System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64();
            }
            catch (System.Text.Json.JsonException)
            {
                return 0L;
            }
        }).DefaultIfEmpty(0).Max();
}
