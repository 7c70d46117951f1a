using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Runtime.Tests;

public sealed class LstmBenchmarkTests
{
    [Theory]
    [InlineData(5, 50, 10, 20, 2, 2L * 50 * 5 * 80 * (10 + 20) + 2L * 50 * 5 * 80 * (20 + 20))]
    [InlineData(64, 100, 256, 512, 2, 2L * 100 * 64 * 2048 * (256 + 512) + 2L * 100 * 64 * 2048 * (512 + 512))]
    [InlineData(1, 1, 1, 1, 1, 2L * 4 * 2)]
    public void Flops_CountsBothGemmsOfEveryLayer_AsThePyTorchScript(int b, int t, int i, int h, int l, long expected)
    {
        var shape = new LstmBenchShape(b, t, i, h, l);
        Assert.Equal(expected, shape.InferenceFlops);
        Assert.Equal(expected, shape.Flops(LstmBenchMode.Inference));
        Assert.Equal(3 * expected, shape.Flops(LstmBenchMode.Training));
    }

    [Fact]
    public void Parse_RoundTripsToString()
    {
        foreach (var shape in LstmBenchShape.Defaults)
            Assert.Equal(shape, LstmBenchShape.Parse(shape.ToString()));
        Assert.Equal(new LstmBenchShape(64, 100, 256, 512, 2), LstmBenchShape.Parse(" 64, 100,256 ,512,2"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1,2,3,4")]
    [InlineData("1,2,3,4,5,6")]
    [InlineData("1,2,-3,4,5")]
    [InlineData("1,2,0,4,5")]
    [InlineData("1,2,three,4,5")]
    public void Parse_ThrowsNamingTheText(string text)
    {
        var e = Assert.Throws<LstmException>(() => LstmBenchShape.Parse(text));
        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Record_Json_HasThePyTorchScriptsFieldsAndRounding()
    {
        var record = new LstmBenchRecord("ilgpu-lstm", "CPU", "cpu", new LstmBenchShape(2, 3, 4, 5, 1), LstmBenchMode.Training, 1.234567, 7, 2);
        using var doc = System.Text.Json.JsonDocument.Parse(record.ToJson());
        var o = doc.RootElement;
        Assert.Equal("training", o.GetProperty("mode").GetString());
        Assert.Equal(1.2346, o.GetProperty("median_ms").GetDouble());
        Assert.Equal(Math.Round(3.0 * 2 * 3 * 2 * 20 * 9 / 1.234567 / 1e6, 1), o.GetProperty("gflops").GetDouble());
        foreach (var field in new[] { "peer", "device", "dtype", "batch", "seq", "input", "hidden", "layers" })
            Assert.True(o.TryGetProperty(field, out _), field);
    }

    [Fact]
    public void MedianMs_RunsWarmupThenRepeats()
    {
        int calls = 0;
        double ms = LstmBenchmark.MedianMs(() => calls++, warmup: 2, repeats: 5);
        Assert.Equal(7, calls);
        Assert.True(ms >= 0);
        Assert.Throws<LstmException>(() => LstmBenchmark.MedianMs(() => { }, 0, 0));
        Assert.Throws<LstmException>(() => LstmBenchmark.MedianMs(() => { }, -1, 1));
    }

    [Fact]
    public void MedianMs_WarmsUpForAtLeastTheMinimumTime()
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        LstmBenchmark.MedianMs(() => { }, warmup: 1, repeats: 1, minWarmupMs: 60);
        double elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Assert.True(elapsed >= 60, $"one warm-up run with a 60 ms minimum and one repeat took {elapsed} ms");
    }

    [Fact]
    public void Measure_OnIlgpuCpu_RecordsTheShapeAndAPositiveTime()
    {
        using var device = ComputeDevice.Open("ilgpu-cpu");
        using var bench = new LstmBenchmark(device, new LstmBenchShape(2, 3, 3, 5, 2));
        foreach (var mode in new[] { LstmBenchMode.Inference, LstmBenchMode.Training })
        {
            var r = bench.Measure(mode, warmup: 1, repeats: 1);
            Assert.Equal(bench.Shape, r.Shape);
            Assert.Equal(mode, r.Mode);
            Assert.Equal("ilgpu-cpu", r.Backend);
            Assert.True(r.MedianMs > 0);
        }
    }
}
