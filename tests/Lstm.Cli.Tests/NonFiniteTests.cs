using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lstm.Cli.Tests;

/// <summary>
/// Runs whose loss or gradient goes NaN or infinite: stopped at that step with one message and
/// exit 2, last/ holding the last finite state (best/ untouched, metrics flushed, no model
/// published), resumable; or, with --on-nonfinite skip, the update left out and counted.
/// </summary>
public sealed partial class NonFiniteTests : CliRunner
{
    private static readonly string[] Small = ["--device", "cpu", "--hidden", "8", "--layers", "1", "--quiet"];

    [GeneratedRegex(@"step (\d+): the (training loss|gradient norm|validation loss) is")]
    private static partial Regex StepPattern();

    private static JsonElement State(string checkpoint) => JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "trainer.json"))).RootElement.Clone();

    private static long StoppedStep(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one message expected: {stderr}");
        var m = StepPattern().Match(lines[0]);
        Assert.True(m.Success, $"the message names the step: {stderr}");
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void DivergingSgd_StopsAtTheStep_KeepsLastFiniteState_AndResumes()
    {
        string run = At("diverge");
        var (code, stdout, stderr) = Run(["train", .. Small, "--optimizer", "sgd", "--lr", "30", "--clip", "0", "--steps", "60", "--out", run]);
        Assert.True(code == Program.BadInput, $"exit {code}: {stderr}\n{stdout}");
        long step = StoppedStep(stderr);
        Assert.Contains("--resume", stderr, StringComparison.Ordinal);
        Assert.True(step is > 1 and < 60, stderr);

        // last/ is the state before the bad step, its numbers finite; the metrics end there; nothing published.
        var state = State(Path.Combine(run, "last"));
        Assert.Equal(step - 1, state.GetProperty("step").GetInt64());
        Assert.Equal(JsonValueKind.Number, state.GetProperty("train_loss").ValueKind);
        var metrics = Metrics(run);
        Assert.Equal(step - 1, metrics[^1].GetProperty("step").GetInt64());
        Assert.All(metrics, r => Assert.Equal(JsonValueKind.Number, r.GetProperty("train_loss").ValueKind));
        Assert.False(File.Exists(Path.Combine(run, "model", "model.safetensors")), "a stopped run publishes no model");
        string bestBefore = File.ReadAllText(Path.Combine(run, "best", "trainer.json"));
        Assert.True(State(Path.Combine(run, "best")).GetProperty("step").GetInt64() < step);

        // A resume with a lower rate starts from that state; these weights already overflow the
        // loss, so it stops at the same step again, cleanly, and best/ is still the one it was.
        var (code2, _, stderr2) = Run(["train", "--resume", run, "--lr", "0.001", "--quiet"]);
        Assert.True(code2 == Program.BadInput, stderr2);
        Assert.Equal(step, StoppedStep(stderr2));
        Assert.Equal(bestBefore, File.ReadAllText(Path.Combine(run, "best", "trainer.json")));
        Assert.Contains("\"lr\": 0.001", File.ReadAllText(Path.Combine(run, "config.json")), StringComparison.Ordinal);
    }

    /// <summary>A CSV whose one huge target (finite in float32, its square not) poisons the batches holding it.</summary>
    private string PoisonedCsv()
    {
        var lines = new List<string> { "t,v" };
        for (int i = 0; i < 120; i++)
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{i},{(i == 30 ? "1e20" : (Math.Sin(i * 0.3)).ToString("R", CultureInfo.InvariantCulture))}"));
        string path = At("poison.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void PoisonedBatch_Skip_CountsAndFinishes_Stop_ThenResumeWithSkip()
    {
        string csv = PoisonedCsv();
        string[] data = ["--csv", csv, "--target", "v", "--window", "4", "--normalize", "none", "--batch-size", "8", "--steps", "30", "--validate-every", "10"];

        string skipped = At("skip");
        string output = Ok(["train", .. Small, .. data, "--on-nonfinite", "skip", "--out", skipped]);
        var m = Regex.Match(output, @"(\d+) steps? skipped");
        Assert.True(m.Success, output);
        long count = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(count, 1, 29);
        Assert.True(File.Exists(Path.Combine(skipped, "model", "model.safetensors")));
        Assert.Equal(30, Metrics(skipped).Count);
        Assert.Equal(count, Metrics(skipped).Count(r => r.GetProperty("train_loss").ValueKind == JsonValueKind.String));

        string stopped = At("stop");
        var (code, _, stderr) = Run(["train", .. Small, .. data, "--out", stopped]);
        Assert.True(code == Program.BadInput, stderr);
        long step = StoppedStep(stderr);
        Assert.Equal(step - 1, State(Path.Combine(stopped, "last")).GetProperty("step").GetInt64());

        // The same batch comes again on resume; skipping it lets the run finish.
        Ok(["train", "--resume", stopped, "--on-nonfinite", "skip", "--quiet"]);
        Assert.Equal(30, State(Path.Combine(stopped, "last")).GetProperty("step").GetInt64());
        Assert.True(File.Exists(Path.Combine(stopped, "model", "model.safetensors")));
    }
}
