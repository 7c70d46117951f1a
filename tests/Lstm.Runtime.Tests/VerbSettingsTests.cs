using Lstm.Kernels.Gemm;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>The rules and defaults of the settings behind <c>lstm compare</c>, <c>generate</c>, <c>eval</c>, <c>predict</c> and <c>bench</c>.</summary>
public sealed class VerbSettingsTests
{
    [Theory]
    [InlineData("--steps")]
    [InlineData("--hidden")]
    [InlineData("--layers")]
    [InlineData("--batch-size")]
    public void CellComparison_SizesBelowOne_AreRejected(string option)
    {
        var s = option switch
        {
            "--steps" => new CellComparisonSettings { Steps = 0 },
            "--hidden" => new CellComparisonSettings { Hidden = 0 },
            "--layers" => new CellComparisonSettings { Layers = 0 },
            _ => new CellComparisonSettings { BatchSize = 0 },
        };
        Assert.Equal($"{option} 0: must be ≥ 1", Assert.Throws<LstmException>(s.Validate).Message);
        Assert.Equal($"{option} 0: must be ≥ 1", Assert.Throws<LstmException>(() => CellComparison.Open(s)).Message);
    }

    [Fact]
    public void CellComparison_BatchLargerThanTheSamples_IsRejected()
    {
        var e = Assert.Throws<LstmException>(() => CellComparison.Open(new CellComparisonSettings { BatchSize = 5000, Device = "cpu" }));
        Assert.Equal("--batch-size 5000: larger than the 2048 training samples", e.Message);
    }

    [Fact]
    public void CellComparison_TrainerOptions_FollowTheSettings()
    {
        var s = new CellComparisonSettings { Task = " Copy ", Steps = 25, BatchSize = 8, LearningRate = 0.02, Seed = 3 };
        Assert.Equal("copy", s.DataSpec.Task);
        var data = s.DataSpec.Prepare();
        var o = s.TrainerOptions(data);
        Assert.Equal(OptimizerKind.Adam, o.Optimizer);
        Assert.Equal(LossKind.CrossEntropy, o.Loss);
        Assert.Equal(CellComparisonSettings.Clip, o.ClipNorm);
        Assert.Equal(2, o.ValidateEvery);
        Assert.Equal(256, o.ValidationBatchSize);
        Assert.Equal((25, 8, 0.02, 3), (o.Steps, o.BatchSize, o.LearningRate, o.Seed));
        Assert.Equal(LossKind.Mse, new CellComparisonSettings().TrainerOptions(new CellComparisonSettings().DataSpec.Prepare()).Loss);
    }

    [Fact]
    public void CellComparison_TrainsEachCell_OnTheCpu()
    {
        using var comparison = CellComparison.Open(new CellComparisonSettings { Steps = 4, Hidden = 4, BatchSize = 8, Device = "cpu" });
        var rows = CellComparison.Cells.Select(comparison.Train).ToList();
        Assert.Equal(["rnn-tanh", "lstm", "gru"], rows.Select(r => r.CellName));
        Assert.All(rows, r => Assert.Equal(4, r.Steps));
        Assert.All(rows, r => Assert.NotNull(r.FinalValidationLoss));
        Assert.True(rows[0].Parameters < rows[2].Parameters && rows[2].Parameters < rows[1].Parameters);
    }

    [Theory]
    [InlineData(-1, 0.8, null, "--length -1: must be ≥ 0")]
    [InlineData(10, -0.5, null, "--temperature -0.5: must be a finite number ≥ 0")]
    [InlineData(10, double.PositiveInfinity, null, "--temperature Infinity: must be a finite number ≥ 0")]
    [InlineData(10, double.NaN, null, "--temperature NaN: must be a finite number ≥ 0")]
    [InlineData(10, 0.8, "", "--prompt: empty; give at least one character, or leave --prompt out")]
    public void Generation_BadValues_AreRejected(int length, double temperature, string? prompt, string message)
    {
        var s = new GenerationSettings { Length = length, Temperature = temperature, Prompt = prompt, Run = "nowhere" };
        Assert.Equal(message, Assert.Throws<LstmException>(s.Validate).Message);
        Assert.Equal(message, Assert.Throws<LstmException>(() => TextGeneration.Generate(s)).Message);
    }

    [Fact]
    public void Generation_Defaults()
    {
        var s = new GenerationSettings();
        s.Validate();
        Assert.Equal((200, 0.8, 1, "auto"), (s.Length, s.Temperature, s.Seed, s.Device));
    }

    [Fact]
    public void Evaluation_RejectsABadBatch_AndOptionsThatChangeTheColumns()
    {
        Assert.Equal("--batch-size 0: must be ≥ 1", Assert.Throws<LstmException>(new EvaluationSettings { BatchSize = 0 }.Validate).Message);
        var s = new EvaluationSettings { Data = new() { Horizon = 3 } };
        Assert.Equal("--horizon 3: eval reads the columns the run was trained on, as it normalized them", Assert.Throws<LstmException>(s.Validate).Message);
        Assert.Equal((64, 12345), (new EvaluationSettings().BatchSize, new EvaluationSettings().Seed));
    }

    [Fact]
    public void Forecast_OutputInAMissingFolder_IsRejectedFirst()
    {
        string output = Path.Combine(Path.GetTempPath(), "lstm-no-such-folder-" + Guid.NewGuid().ToString("N"), "f.csv");
        var e = Assert.Throws<LstmException>(() => Forecast.Run(new ForecastSettings { Run = "nowhere", Csv = "x.csv", Output = output }));
        Assert.StartsWith($"--output {output}: the folder ", e.Message);
    }

    [Fact]
    public void Bench_Rules()
    {
        Assert.Equal("--repeats 0: must be at least 1", Assert.Throws<LstmException>(() => new BenchSettings { Repeats = 0 }.Resolve()).Message);
        Assert.Equal("--warmup -1: must be 0 or more", Assert.Throws<LstmException>(() => new BenchSettings { Warmup = -1 }.Resolve()).Message);
        Assert.Equal("--gemm-shapes: needs --gemm", Assert.Throws<LstmException>(() => new BenchSettings { GemmShapes = ["2,3,4"] }.Resolve()).Message);
        Assert.StartsWith("--precision fp8: expected fp32, tf32", Assert.Throws<LstmException>(() => new BenchSettings { Precision = "fp8" }.Resolve()).Message);
    }

    [Fact]
    public void Bench_Defaults_AndShapes()
    {
        var s = new BenchSettings();
        var plan = s.Resolve();
        Assert.Equal((20, 3, 1000), (s.Repeats, s.Warmup, s.MinWarmupMs));
        Assert.Equal(0, (s with { Warmup = 0 }).MinWarmupMs);
        Assert.Equal(LstmBenchShape.Defaults, plan.Shapes);
        Assert.Empty(plan.Gemms);
        Assert.Equal(GemmPrecision.Fp32, plan.Precision);
        var gemm = new BenchSettings { Gemm = true, Shapes = ["2,3,4,5,1"], Precision = "tf32" }.Resolve();
        Assert.Equal(GemmBenchShape.OfLstm(gemm.Shapes[0]).Append(GemmBenchShape.Square4096).Distinct(), gemm.Gemms);
        Assert.Equal(GemmPrecision.Tf32, gemm.Precision);
        Assert.Equal(" with tf32 products", BenchPlan.PrecisionNote(GemmPrecision.Tf32));
        Assert.Equal("", BenchPlan.PrecisionNote(GemmPrecision.Fp32));
    }

    [Fact]
    public void PrecisionOption_NullIsFp32()
    {
        Assert.Equal(GemmPrecision.Fp32, PrecisionNames.ParseOption(null));
        Assert.Equal(GemmPrecision.Bf16, PrecisionNames.ParseOption(" BF16 "));
        Assert.Equal(PrecisionNames.Default, PrecisionNames.Name(GemmPrecision.Fp32));
    }

    [Fact]
    public void SelfTest_WorstByDType_IsRelativeToTheTolerance()
    {
        SelfTestCheck a = new("a", "float32", 1e-6, 1e-5), b = new("b", "float32", 1e-6, 2e-6), c = new("c", "float64", 1e-13, 1e-12);
        Assert.Equal([("float32", b), ("float64", c)], SelfTest.WorstByDType([a, b, c]));
    }
}
