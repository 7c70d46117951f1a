using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The log-softmax kernel on every device against its float64 reference at odd sizes (and logits
/// far from 0, where a naive form overflows), the cpu backend against the ILGPU kernel bit for bit,
/// and the chain logits → log-softmax → CTC whose gradient is d loss / d logits, by finite differences.
/// </summary>
public class LogSoftmaxTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    private static double[] Logits(int seed, int n, double offset)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => offset + (rng.NextDouble() * 2 - 1) * 6).ToArray();
    }

    private static double[] Run<T>(string device, double[] logits, int rows, int classes) where T : unmanaged
    {
        var dev = TestDevices.Get(device);
        using var x = Tensor<T>.FromArray(dev, logits.Select(Num<T>.From).ToArray(), rows, classes);
        using var y = Tensor<T>.Zeros(dev, rows, classes);
        x.Ops.LogSoftmax(rows, classes, x.Data, y.Data);
        return y.ToArray().Select(Num<T>.ToDouble).ToArray();
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void MatchesFloat64Reference_AtOddSizes(string device)
    {
        double worst32 = 0, worst64 = 0;
        foreach (var (rows, classes, offset) in new[] { (1, 1, 0.0), (3, 2, 0.0), (7, 17, 300.0), (33, 5, -1e4), (5, 130, 0.0), (129, 3, 80.0) })
        {
            var logits = Logits(rows * 1000 + classes, rows * classes, offset);
            var expected = new double[logits.Length];
            SoftmaxReference.LogSoftmax(rows, classes, logits, expected);
            var rounded = Numerics.RoundToFloat(logits);
            var expected32 = new double[logits.Length];
            SoftmaxReference.LogSoftmax(rows, classes, rounded, expected32);
            var single = Run<float>(device, rounded, rows, classes);
            var twice = Run<double>(device, logits, rows, classes);
            for (int i = 0; i < logits.Length; i++)
            {
                Assert.True(double.IsFinite(single[i]) && double.IsFinite(twice[i]), $"[{rows}, {classes}] element {i}: not finite");
                worst32 = Math.Max(worst32, Math.Abs(single[i] - expected32[i]) / (1 + Math.Abs(expected32[i])));
                worst64 = Math.Max(worst64, Math.Abs(twice[i] - expected[i]) / (1 + Math.Abs(expected[i])));
            }

            for (int r = 0; r < rows; r++)
            {
                double total = Enumerable.Range(0, classes).Sum(j => Math.Exp(twice[r * classes + j]));
                Assert.True(Math.Abs(total - 1) < 1e-12, $"[{rows}, {classes}] row {r}: probabilities sum to {total}");
            }
        }

        output.WriteLine($"{device}: worst relative error float32 {worst32:e2}, float64 {worst64:e2}");
        Assert.True(worst32 < 2e-6, $"float32: {worst32:e2}");
        Assert.True(worst64 < 1e-13, $"float64: {worst64:e2}");
    }

    [Theory]
    [InlineData("float32")]
    [InlineData("float64")]
    public void CpuBackend_MatchesTheIlgpuKernelBitForBit(string dtype)
    {
        const int rows = 37, classes = 29;
        var logits = Logits(5, rows * classes, 2);
        if (dtype == "float32")
            Assert.Equal(Run<float>("cpu", logits, rows, classes), Run<float>("ilgpu-cpu", logits, rows, classes));
        else
            Assert.Equal(Run<double>("cpu", logits, rows, classes), Run<double>("ilgpu-cpu", logits, rows, classes));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void LogSoftmaxThenCtc_GradientIsDLossDLogits_ByFiniteDifferences(string device)
    {
        var dev = TestDevices.Get(device);
        const int B = 3, T = 7, C = 5;
        var logits = Logits(11, B * T * C, 0.5);
        int[][] targets = [[1, 1, 3], [4], [2, 3]];
        int[] lengths = [7, 3, 5];
        double Loss(double[] z)
        {
            using var x = Tensor<double>.FromArray(dev, z, B * T, C);
            var (loss, _, grad) = CtcLoss.FromLogits(x, B, targets, lengths);
            grad.Dispose();
            return loss;
        }

        double[] analytic;
        using (var x = Tensor<double>.FromArray(dev, logits, B * T, C))
        {
            var (_, _, grad) = CtcLoss.FromLogits(x, B, targets, lengths);
            using (grad)
                analytic = grad.ToArray();
        }

        const double h = 1e-6;
        double worst = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            var plus = (double[])logits.Clone();
            var minus = (double[])logits.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (Loss(plus) - Loss(minus)) / (2 * h);
            worst = Math.Max(worst, Math.Abs(numeric - analytic[i]));
            int b = i / (T * C), t = i / C % T;
            if (t >= lengths[b])
                Assert.Equal(0, analytic[i]);
        }

        output.WriteLine($"{device}: worst |analytic − numeric| {worst:e2} over {logits.Length} logits");
        Assert.True(worst < 1e-8, $"gradient vs finite differences: {worst:e2}");
    }

    [Fact]
    public void BadSizes_NameTheProblem()
    {
        var dev = TestDevices.Get("cpu");
        using var x = Tensor<double>.Zeros(dev, 4, 3);
        using var y = Tensor<double>.Zeros(dev, 4, 2);
        Assert.Equal("log-softmax over [N 4, C 3]: input of 12 elements, output of 8", Assert.Throws<LstmException>(() => x.Ops.LogSoftmax(4, 3, x.Data, y.Data)).Message);
        using var logits = Tensor<double>.Zeros(dev, 7, 3);
        Assert.Equal("CTC loss: logits have shape [7, 3], expected [B·T, C] for B = 2",
            Assert.Throws<LstmException>(() => CtcLoss.FromLogits(logits, 2, [[1], [2]], [3, 3])).Message);
    }
}
