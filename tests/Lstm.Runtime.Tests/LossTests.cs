using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>The fused masked losses against float64 references.</summary>
public class LossTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    // Rows and classes of 1, odd, and not multiples of 32 or of the CPU accelerator's group.
    private static readonly (int Rows, int Classes)[] Sizes = [(1, 1), (1, 5), (7, 3), (37, 33), (300, 2)];

    private static T[] Cast<T>(double[] v) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T[])(object)v.Select(d => (float)d).ToArray() : (T[])(object)v;

    private static double[] Widen<T>(T[] v) where T : unmanaged => v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    [Theory]
    [MemberData(nameof(Devices))]
    public void CrossEntropy_MatchesFloat64Reference_WithAndWithoutMask_Float32(string device) => CrossEntropy<float>(device, 1e-5);

    [Theory]
    [MemberData(nameof(Devices))]
    public void CrossEntropy_MatchesFloat64Reference_WithAndWithoutMask_Float64(string device) => CrossEntropy<double>(device, 1e-13);

    private void CrossEntropy<T>(string device, double tolerance) where T : unmanaged
    {
        var dev = TestDevices.Get(device);
        var rng = new Random(11);
        double worstLoss = 0;
        double worstGrad = 0;
        foreach (var (rows, classes) in Sizes)
        {
            foreach (bool masked in new[] { false, true })
            {
                var x = Numerics.Uniform(rng, rows * classes, 4.0);
                if (typeof(T) == typeof(float))
                    x = Numerics.RoundToFloat(x);
                var targets = Enumerable.Range(0, rows).Select(_ => rng.Next(classes)).ToArray();
                var mask = masked ? Enumerable.Range(0, rows).Select(r => r % 3 != 1).ToArray() : [];
                var expectedGrad = new double[rows * classes];
                double expected = LossReference.CrossEntropy(rows, classes, x, targets, mask, expectedGrad);
                using var logits = Tensor<T>.FromArray(dev, Cast<T>(x), rows, classes);
                var (loss, grad) = CrossEntropyLoss.Compute(logits, targets, mask);
                using (grad)
                {
                    Assert.True(Math.Abs(loss - expected) < tolerance * Math.Max(1, expected), $"[{rows}, {classes}] masked={masked}: loss {loss} vs {expected}");
                    double err = Numerics.MaxAbsError(Widen(grad.ToArray()), expectedGrad);
                    Assert.True(err < tolerance, $"[{rows}, {classes}] masked={masked}: gradient error {err:e2}");
                    worstLoss = Math.Max(worstLoss, Math.Abs(loss - expected));
                    worstGrad = Math.Max(worstGrad, err);
                }
            }
        }

        output.WriteLine($"cross-entropy {typeof(T).Name}: worst loss error {worstLoss:e2}, worst gradient error {worstGrad:e2}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void CrossEntropy_HugeLogits_DoNotOverflow(string device)
    {
        var dev = TestDevices.Get(device);
        // ±1e4: e^1e4 overflows both float32 and float64; the max-subtracted form does not.
        double[] x = [1e4, -1e4, 9990, 0, -1e4, 1e4, 1e4, -1e4, 1e4];
        int[] targets = [2, 0, 1];
        var expectedGrad = new double[9];
        double expected = LossReference.CrossEntropy(3, 3, x, targets, [], expectedGrad);
        Assert.Equal((10 + Math.Log(1 + Math.Exp(-10)) + 1e4 + 2e4 + Math.Log(2)) / 3, expected, 1e-9);
        using var logits = Tensor<float>.FromArray(dev, x.Select(v => (float)v).ToArray(), 3, 3);
        var (loss, grad) = CrossEntropyLoss.Compute(logits, targets);
        using (grad)
        {
            Assert.True(double.IsFinite(loss));
            Assert.True(Math.Abs(loss - expected) < 1e-6 * expected, $"loss {loss} vs {expected}");
            Assert.True(Numerics.MaxAbsError(Numerics.Widen(grad.ToArray()), expectedGrad) < 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Mse_MatchesFloat64Reference_WithAndWithoutMask(string device)
    {
        var dev = TestDevices.Get(device);
        var rng = new Random(12);
        foreach (var (rows, cols) in Sizes)
        {
            foreach (bool masked in new[] { false, true })
            {
                var p = Numerics.Uniform(rng, rows * cols);
                var y = Numerics.Uniform(rng, rows * cols);
                var mask = masked ? Enumerable.Range(0, rows).Select(r => r % 2 == 0).ToArray() : [];
                var expectedGrad = new double[rows * cols];
                double expected = LossReference.MeanSquaredError(rows, cols, p, y, mask, expectedGrad);
                using var tp = Tensor<double>.FromArray(dev, p, rows, cols);
                using var ty = Tensor<double>.FromArray(dev, y, rows, cols);
                using var tm = masked ? Tensor<double>.FromArray(dev, mask.Select(b => b ? 1.0 : 0.0).ToArray(), rows) : null;
                var (loss, grad) = MseLoss.Compute(tp, ty, tm);
                using (grad)
                {
                    Assert.Equal(expected, loss, 1e-13);
                    Assert.True(Numerics.MaxAbsError(grad.ToArray(), expectedGrad) < 1e-15);
                }
            }
        }
    }

    [Fact]
    public void CrossEntropy_BadTargetOrMask_ThrowsNamingRow()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        using var logits = Tensor<float>.Zeros(dev, 3, 4);
        var e = Assert.Throws<LstmException>(() => CrossEntropyLoss.Compute(logits, [0, 4, 1]));
        Assert.Equal("cross-entropy: target 4 at row 1 is not a class index in [0, 4)", e.Message);
        using var mask = Tensor<float>.FromArray(dev, [1f, 0.5f, 1f], 3);
        using var targets = Tensor<float>.FromArray(dev, [0f, 1f, 2f], 3);
        e = Assert.Throws<LstmException>(() => CrossEntropyLoss.Compute(logits, targets, mask));
        Assert.Equal("cross-entropy: mask value 0.5 at row 1 is neither 0 nor 1", e.Message);
        e = Assert.Throws<LstmException>(() => CrossEntropyLoss.Compute(logits, [0, 1]));
        Assert.Equal("cross-entropy: targets have shape [2], expected [3] for logits [3, 4]", e.Message);

        // A masked row's target is not checked, and an all-masked batch has zero loss and gradient.
        var (loss, grad) = CrossEntropyLoss.Compute(logits, [0, -100, 1], [true, false, true]);
        grad.Dispose();
        Assert.Equal(Math.Log(4), loss, 1e-6);
        (loss, grad) = CrossEntropyLoss.Compute(logits, [0, 1, 2], [false, false, false]);
        using (grad)
        {
            Assert.Equal(0, loss);
            Assert.All(grad.ToArray(), v => Assert.Equal(0f, v));
        }
    }
}
