using System.Text.Json;
using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;

namespace Lstm.Cli.Tests;

/// <summary><c>--precision</c> on the verbs that open devices: run, bench and train (recorded with the run, kept on resume).</summary>
public sealed class PrecisionCliTests : CliRunner
{
    private (string Model, string Input) Split(GoldenCase golden)
    {
        string model = At(golden.Name + ".model.safetensors"), input = At(golden.Name + ".input.safetensors");
        new SafeTensorsFile(golden.ParamNames.Select(golden.File.Get)).Write(model);
        new SafeTensorsFile(new[] { "x", "h0", "c0" }.Where(golden.File.Contains).Select(golden.File.Get)).Write(input);
        return (model, input);
    }

    [Theory]
    [InlineData("fp32", 1e-5)]
    [InlineData("tf32", 2e-3)]
    [InlineData("3xtf32", 1e-5)]
    [InlineData("bf16", 2e-2)]
    public void Run_AtAPrecision_StaysWithinItsErrorOfPyTorch(string precision, double tolerance)
    {
        var golden = GoldenCase.Load("a_seed_l2_bf");
        var (model, input) = Split(golden);
        string output = At($"y-{precision}.safetensors");
        Ok("run", "--model", model, "--input", input, "--output", output, "--batch-first", "--device", "cpu", "--precision", precision);
        double error = Numerics.MaxAbsError(SafeTensorsFile.Read(output).Get("output").ToFloat64(), golden.Get("output"));
        Assert.True(error <= tolerance, $"{precision}: {error:E2} > {tolerance:E0}");
        if (precision is "tf32" or "bf16")
            Assert.True(error > 1e-5, $"{precision}: {error:E2}, as close as fp32: the precision was not applied");
    }

    [Theory]
    [InlineData("run")]
    [InlineData("bench")]
    [InlineData("train")]
    public void UnknownPrecision_IsNamed_AndNothingIsWritten(string verb)
    {
        string[] args = verb switch
        {
            "run" => ["run", "--model", At("m.safetensors"), "--input", At("x.safetensors"), "--output", At("y.safetensors")],
            "bench" => ["bench", "--shapes", "1,1,1,1,1", "--repeats", "1"],
            _ => ["train", "--steps", "2", "--out", At("run")],
        };
        var (code, _, stderr) = Run([.. args, "--device", "cpu", "--precision", "fp16"]);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--precision fp16: expected fp32, tf32, 3xtf32 or bf16", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Dir));
    }

    [Fact]
    public void BenchGemm_AtBf16_RunsTheRoundingKernel_AndRecordsThePrecision()
    {
        string json = At("gemm.jsonl");
        string stdout = Ok("bench", "--gemm", "--device", "ilgpu-cpu", "--precision", "bf16", "--gemm-shapes", "3,5,7", "--repeats", "1", "--warmup", "0", "--json", json);
        Assert.Contains("with bf16 products", stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllLines(json).Single());
        Assert.Equal("bf16", doc.RootElement.GetProperty("precision").GetString());
        Assert.Equal("Rounded", doc.RootElement.GetProperty("kernel").GetString());
    }

    [Fact]
    public void Train_RecordsThePrecision_AndResumeKeepsIt()
    {
        string run = At("run");
        string[] common = ["--task", "adding", "--seq-len", "6", "--train-samples", "64", "--val-samples", "16", "--hidden", "6", "--steps", "6", "--batch-size", "8", "--device", "cpu"];
        string stdout = Ok(["train", .. common, "--precision", "tf32", "--until-step", "3", "--out", run]);
        Assert.Contains("tf32 products", stdout, StringComparison.Ordinal);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
            Assert.Equal("tf32", config.RootElement.GetProperty("training").GetProperty("precision").GetString());

        var (code, _, stderr) = Run("train", "--resume", run, "--precision", "bf16");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--precision cannot be changed", stderr, StringComparison.Ordinal);
        Assert.Contains("tf32 products", Ok("train", "--resume", run), StringComparison.Ordinal);
        Assert.Equal(6, Metrics(run).Count);
    }
}
