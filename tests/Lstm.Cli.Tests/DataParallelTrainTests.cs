using System.Text.Json;

namespace Lstm.Cli.Tests;

/// <summary><c>lstm train --devices … [--shards …]</c>: data-parallel runs end to end on two <c>cpu</c> devices, their record in config.json, resume, and bad combinations.</summary>
public sealed class DataParallelTrainTests : CliRunner
{
    private static readonly string[] Sine =
        ["--task", "sine", "--seq-len", "8", "--train-samples", "96", "--val-samples", "24", "--hidden", "8", "--layers", "2",
            "--steps", "20", "--batch-size", "8", "--validate-every", "5", "--checkpoint-every", "5"];

    private static (string[] Devices, int[] Shards) Recorded(string run)
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        var training = config.RootElement.GetProperty("training");
        return (training.GetProperty("devices").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            training.GetProperty("shards").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Fact]
    public void Train_TwoCpuDevices_GivenShards_RecordsThemAndTrains()
    {
        string run = At("dp");
        string stdout = Ok(["train", .. Sine, "--devices", "cpu,cpu", "--shards", "5,3", "--out", run]);
        Assert.Contains("on cpu, cpu (data parallel, shards 5,3)", stdout, StringComparison.Ordinal);
        Assert.Contains("trained to step 20", stdout, StringComparison.Ordinal);
        var (devices, shards) = Recorded(run);
        Assert.Equal(["cpu", "cpu"], devices);
        Assert.Equal([5, 3], shards);
        var metrics = Metrics(run);
        Assert.Equal(20, metrics.Count);
        Assert.All(metrics, m => Assert.True(double.IsFinite(m.GetProperty("train_loss").GetDouble())));
        foreach (var dir in new[] { "model", "best", "last" })
            Assert.True(File.Exists(Path.Combine(run, dir, "model.safetensors")), dir);
    }

    [Fact]
    public void Resume_OfAOneDeviceRun_WithDevices_RecordsTheMeasuredShards()
    {
        string run = At("one");
        Ok(["train", .. Sine, "--device", "cpu", "--out", run, "--until-step", "10"]);
        using (var before = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
            Assert.False(before.RootElement.GetProperty("training").TryGetProperty("shards", out var none) && none.ValueKind == JsonValueKind.Array);
        string stdout = Ok("train", "--resume", run, "--devices", "cpu,cpu", "--until-step", "15");
        var (devices, shards) = Recorded(run);
        Assert.Equal(["cpu", "cpu"], devices);
        Assert.Equal(8, shards.Sum());
        Assert.Contains($"(data parallel, shards {string.Join(",", shards)})", stdout, StringComparison.Ordinal);

        // A later resume without options continues on the recorded devices and shards.
        string later = Ok("train", "--resume", run);
        Assert.Contains($"(data parallel, shards {string.Join(",", shards)})", later, StringComparison.Ordinal);
        Assert.Contains("trained to step 20", later, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_TwoCpuDevices_MeasuredShards_AreRecordedAndReusedByResume()
    {
        string whole = At("whole");
        Ok(["train", .. Sine, "--devices", "cpu,cpu", "--out", whole]);
        var (devices, shards) = Recorded(whole);
        Assert.Equal(["cpu", "cpu"], devices);
        Assert.Equal(8, shards.Sum());
        Assert.All(shards, s => Assert.True(s >= 1));

        // The same shards given explicitly, interrupted and resumed: the run equals the uninterrupted one.
        string given = string.Join(",", shards);
        string again = At("again");
        Ok(["train", .. Sine, "--devices", "cpu,cpu", "--shards", given, "--out", again]);
        string pieces = At("pieces");
        Ok(["train", .. Sine, "--devices", "cpu,cpu", "--shards", given, "--out", pieces, "--until-step", "10"]);
        string resumed = Ok("train", "--resume", pieces);
        Assert.Contains($"(data parallel, shards {given})", resumed, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Path.Combine(again, "model", "model.safetensors")), File.ReadAllBytes(Path.Combine(pieces, "model", "model.safetensors")));
        var expected = Metrics(again);
        var actual = Metrics(pieces);
        Assert.Equal(expected.Select(m => m.GetProperty("train_loss").GetRawText()), actual.Select(m => m.GetProperty("train_loss").GetRawText()));
    }

    [Theory]
    [InlineData(new[] { "--device", "cpu", "--devices", "cpu,cpu" }, "--device cpu and --devices cpu,cpu: give one of them")]
    [InlineData(new[] { "--shards", "4,4" }, "--shards 4,4: needs --devices")]
    [InlineData(new[] { "--devices", "cpu,cpu", "--shards", "8,0" }, "shard 1 has 0 rows")]
    [InlineData(new[] { "--devices", "cpu,cpu", "--shards", "4,2,2" }, "3 shard sizes (4,2,2) for 2 devices")]
    [InlineData(new[] { "--devices", "cpu,cpu", "--shards", "5,4" }, "sum to 9, not to the batch size 8")]
    [InlineData(new[] { "--devices", "cpu,cpu", "--shards", "4,x" }, "--shards 4,x: 'x' is not a whole number")]
    [InlineData(new[] { "--devices", "cpu,,cpu" }, "a device name is empty")]
    [InlineData(new[] { "--devices", "cpu,nosuch" }, "nosuch")]
    public void Train_BadDevicesOrShards_Exit2_NoRunFolder(string[] bad, string fragment)
    {
        string run = At("bad");
        var (code, stdout, stderr) = Run(["train", .. Sine, "--out", run, .. bad]);
        Assert.True(code == Program.BadInput, $"exit {code}; stdout: {stdout}; stderr: {stderr}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one message expected: {stderr}");
        Assert.Contains(fragment, lines[0], StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "a refused run leaves no folder");
    }
}
