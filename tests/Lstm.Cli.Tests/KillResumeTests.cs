using System.Globalization;
using Lstm.Runtime.Persistence;
using Xunit.Abstractions;

namespace Lstm.Cli.Tests;

/// <summary>
/// <c>lstm train</c> killed with SIGKILL at seeded moments (after a seeded step plus a seeded
/// delay, which lands in steps, metrics flushes and checkpoint writes alike, or a seeded time after
/// start, which may land before the settings are written), then resumed until it ends: the model is
/// bit for bit that of a run never interrupted, and metrics.jsonl holds every step once with that
/// run's losses.
/// </summary>
public sealed class KillResumeTests(ITestOutputHelper output) : CliRunner
{
    private const int Steps = 120;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static readonly Lazy<(byte[] Weights, double[] Losses)> Uninterrupted = new(() =>
    {
        string dir = Directory.CreateTempSubdirectory("lstm-kill-reference-").FullName;
        try
        {
            string run = Path.Combine(dir, "run");
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            int code = Program.Run(Train(run), stdout, stderr);
            Assert.True(code == Program.Ok, stderr.ToString());
            return (File.ReadAllBytes(Path.Combine(run, "model", "model.safetensors")), MetricsLog.Read(Path.Combine(run, "metrics.jsonl")).Select(m => m.TrainLoss).ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    });

    private static string[] Train(string run) =>
    [
        "train", "--device", "cpu", "--task", "sine", "--seq-len", "8", "--train-samples", "64", "--val-samples", "16",
        "--hidden", "8", "--steps", Steps.ToString(CultureInfo.InvariantCulture), "--batch-size", "8",
        "--validate-every", "15", "--checkpoint-every", "10", "--log-every", "1", "--out", run,
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void KilledAtSeededMoments_ResumesToTheUninterruptedModel(int seed)
    {
        var rng = new Random(seed);
        string run = At("run");
        var log = new List<string>();
        for (int round = 0; ; round++)
        {
            bool started = File.Exists(Path.Combine(run, "config.json"));
            string[] args = started ? ["train", "--resume", run, "--device", "cpu", "--log-every", "1"] : Train(run);
            using var child = LstmProcess.Start(Dir, args);
            if (round == 3)
            {
                int code = child.WaitForExit(Patience);
                Assert.True(code == Program.Ok, $"exit {code} after {string.Join("; ", log)}:\n{child.Err}\n{child.Out}");
                Told(child);
                break;
            }

            // A seeded moment: after a step and a delay, or a time after start.
            bool byStep = rng.Next(4) != 0;
            long step = rng.Next(1, Steps);
            int delay = byStep ? rng.Next(0, 80) : rng.Next(100, 2500);
            bool reached = byStep ? child.WaitForStep(step, Patience) : !child.HasExited;
            Thread.Sleep(delay);
            child.Kill();
            log.Add($"{(started ? "resume" : "train")} killed {(byStep ? $"{delay} ms after step {step}" : $"{delay} ms after start")} (last step seen {child.LastStep}{(reached ? "" : ", ended first")})");
            Told(child);
        }

        foreach (string line in log)
            output.WriteLine(line);

        void Told(LstmProcess child)
        {
            foreach (string line in child.Out.Split('\n').Where(l => l.StartsWith("recovered:", StringComparison.Ordinal) || l.StartsWith("resuming", StringComparison.Ordinal)))
                log.Add("  " + line.TrimEnd());
        }

        var (weights, losses) = Uninterrupted.Value;
        string why = string.Join("; ", log);
        Assert.True(weights.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(run, "model", "model.safetensors"))), $"the final model differs from the uninterrupted run's after: {why}");
        var metrics = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, Steps).Select(s => (long)s), metrics.Select(m => m.Step));
        Assert.Equal(losses, metrics.Select(m => m.TrainLoss));
        TrainingCheckpoint.Verify(Path.Combine(run, "last"));
        Assert.Empty(Directory.GetFileSystemEntries(run, ".*", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(run, "run.lock")));
    }
}
