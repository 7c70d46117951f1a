






namespace Lstm.Cli.Tests;

/// <summary><c>lstm plan</c>, <c>lstm train --dry-run</c> and <c>lstm train --placement</c>.</summary>
public sealed class PlanCommandTests : CliRunner
{
    [Fact]
    public void Plan_ListsEachDeviceAndTheByteCounts()
    {
        // The sine task: T = 20, batch 32; hidden 16, float32: a layer's output is 20·32·16·4 = 40,960 bytes per step.
        string stdout = Ok("plan", "--placement", "cpu,ilgpu-cpu", "--hidden", "16", "--chunk-steps", "5");
        Assert.Contains("layer pipeline over 2 devices: chunks of 5 steps (4 per pass)", stdout, StringComparison.Ordinal);
        var lines = stdout.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("0 cpu ", StringComparison.Ordinal) && l.Contains("layer 0 (fwd)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("1 ilgpu-cpu ", StringComparison.Ordinal) && l.Contains("layer 1 (fwd), fc head", StringComparison.Ordinal));
        var link = Assert.Single(lines, l => l.StartsWith("0 cpu -> 1 ilgpu-cpu", StringComparison.Ordinal));
        Assert.Equal(["10,240", "40,960", "10,240", "40,960"], link.Split(' ', StringSplitOptions.RemoveEmptyEntries)[5..]);

        // Parameters of layer 0: 4H·I + 4H·H + 2·4H = 64 + 1024 + 128 = 1,216 floats; adam keeps two moments of each.
        var first = Assert.Single(lines, l => l.Contains("layer 0 (fwd)", StringComparison.Ordinal)).Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).ToArray();
        Assert.Equal(["4,864", "4,864", "9,728"], first[2..5]);
    }

    [Fact]
    public void Plan_OneDevice_HasOneRowAndNoTransfers()
    {
        string stdout = Ok("plan", "--device", "cpu", "--layers", "3", "--bidirectional");
        Assert.Contains("one device runs every layer (no transfers)", stdout, StringComparison.Ordinal);
        Assert.Contains("layer 0 (fwd+rev), layer 1 (fwd+rev), layer 2 (fwd+rev), fc head", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("transfers per training step", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void DryRun_PrintsThePlan_AndCreatesNoRunFolder()
    {
        string run = At("run");
        string stdout = Ok("train", "--dry-run", "--placement", "cpu,cpu", "--out", run);
        Assert.StartsWith("plan: LSTM sequence-to-one, 2 layers", stdout, StringComparison.Ordinal);
        Assert.Contains("transfers per training step", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
        Assert.Empty(Directory.GetFileSystemEntries(Dir));
    }

    [Theory]
    [InlineData("train")]
    [InlineData("plan")]
    public void Placement_WithTheWrongCount_IsOneClearMessage_ExitCode2_NoRunFolder(string verb)
    {
        string run = At("run");
        var (code, stdout, stderr) = Run(verb, "--placement", "cpu,cpu,cpu", "--layers", "2", "--steps", "3", "--out", run);
        Assert.Equal(Program.BadInput, code);
        Assert.Equal("", stdout);
        Assert.Equal("error: --placement cpu,cpu,cpu names 3 devices but the model has 2 layers (--layers): give one device per layer", stderr.Trim());
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Placement_AndDevice_TogetherAreRefused()
    {
        var (code, _, stderr) = Run("train", "--placement", "cpu,cpu", "--device", "cpu", "--out", At("run"));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("give one of them", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(At("run")));
    }

    [Fact]
    public void Plan_DataParallel_ListsEachReplica_ItsShard_AndTheAllReduceBytes()
    {
        // The sine task (batch 32), hidden 16, float32: 1,216 floats in layer 0, 4·16·16 + 4·16·16 + 2·4·16 = 2,176 in layer 1, 17 in the head.
        string stdout = Ok("plan", "--devices", "cpu,ilgpu-cpu", "--shards", "20,12", "--hidden", "16");
        Assert.Contains("data parallel over 2 devices: a replica of the whole model on each, shards of 20,12 rows;", stdout, StringComparison.Ordinal);
        var lines = stdout.Split('\n');
        var first = Assert.Single(lines, l => l.StartsWith("0 cpu ", StringComparison.Ordinal) && l.Contains("replica", StringComparison.Ordinal)).Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(c => c.Trim()).ToArray();
        var second = Assert.Single(lines, l => l.StartsWith("1 ilgpu-cpu ", StringComparison.Ordinal) && l.Contains("replica", StringComparison.Ordinal)).Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(c => c.Trim()).ToArray();
        Assert.StartsWith("replica 0: 20 of 32 rows, layer 0 (fwd), layer 1 (fwd), fc head", first[1], StringComparison.Ordinal);
        Assert.StartsWith("replica 1: 12 of 32 rows", second[1], StringComparison.Ordinal);
        long parameterBytes = (1216 + 2176 + 17) * 4;
        string n = parameterBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        // Both replicas hold the whole model and its gradients; only replica 0 keeps adam's two moments.
        Assert.Equal([n, n], first[2..4]);
        Assert.Equal([n, n, "0"], second[2..5]);
        var link = Assert.Single(lines, l => l.StartsWith("1 ilgpu-cpu -> 0 cpu", StringComparison.Ordinal));
        Assert.Equal([n, n], link.Split(' ', StringSplitOptions.RemoveEmptyEntries)[5..]);
    }

    [Fact]
    public void Plan_DataParallel_WithoutShards_SaysTheyAreMeasured()
    {
        string stdout = Ok("plan", "--devices", "cpu,cpu");
        Assert.Contains("shards of 16,16 rows (an even split shown; the shards are measured from the devices' speeds when training starts)", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train")]
    [InlineData("plan")]
    public void Placement_AndDevices_TogetherAreRefused(string verb)
    {
        var (code, stdout, stderr) = Run(verb, "--placement", "cpu,cpu", "--devices", "cpu,cpu", "--steps", "3", "--out", At("run"));
        Assert.Equal(Program.BadInput, code);
        Assert.Equal("", stdout);
        Assert.Equal("error: --placement cpu,cpu and --devices cpu,cpu: give one of them (a layer pipeline is not replicated data-parallel)", stderr.Trim());
        Assert.False(Directory.Exists(At("run")));
    }

    [Fact]
    public void Train_WithPlacement_FollowsTheOneDeviceRun()
    {
        string[] common = ["--task", "adding", "--seq-len", "10", "--hidden", "12", "--layers", "2", "--dropout", "0.2", "--steps", "20", "--batch-size", "16", "--quiet"];
        string stdout = Ok(["train", "--placement", "cpu,cpu", "--chunk-steps", "3", "--out", At("pipe"), .. common]);
        Ok(["train", "--device", "cpu", "--out", At("one"), .. common]);
        Assert.Contains("trained to step 20", stdout, StringComparison.Ordinal);
        var pipe = Metrics(At("pipe")).Select(m => m.GetProperty("train_loss").GetDouble()).ToArray();
        var one = Metrics(At("one")).Select(m => m.GetProperty("train_loss").GetDouble()).ToArray();
        Assert.Equal(one.Length, pipe.Length);
        for (int i = 0; i < one.Length; i++)
            Assert.True(Math.Abs(one[i] - pipe[i]) <= 1e-4 * Math.Abs(one[i]) + 1e-7, $"step {i + 1}: loss {pipe[i]} with the placement, {one[i]} on one device");

        // The weights load on one device: evaluation of the pipelined run's model.
        Assert.Contains("MSE", Ok("eval", "--run", At("pipe"), "--device", "cpu"), StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_WithThePlacement_ContinuesBitwise()
    {
        string[] common = ["--task", "adding", "--seq-len", "8", "--hidden", "8", "--layers", "2", "--dropout", "0.3", "--steps", "12", "--batch-size", "8",
            "--validate-every", "4", "--placement", "cpu,cpu", "--chunk-steps", "3", "--quiet"];
        Ok(["train", "--out", At("whole"), .. common]);
        Ok(["train", "--out", At("parts"), "--until-step", "5", .. common]);
        string stdout = Ok("train", "--resume", At("parts"), "--placement", "cpu,cpu", "--chunk-steps", "3", "--quiet");
        Assert.Contains("trained to step 12", stdout, StringComparison.Ordinal);
        var whole = Metrics(At("whole")).Select(m => m.GetProperty("train_loss").GetDouble()).ToArray();
        var parts = Metrics(At("parts")).Select(m => m.GetProperty("train_loss").GetDouble()).ToArray();
        Assert.Equal(whole, parts);
        Assert.Equal(File.ReadAllBytes(At("whole", "model", "model.safetensors")), File.ReadAllBytes(At("parts", "model", "model.safetensors")));
    }
}
