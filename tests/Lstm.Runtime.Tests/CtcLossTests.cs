using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The CTC loss kernel on every device against the float64 reference (odd sizes, lengths per row,
/// repeated labels, every reduction, both layouts, impossible rows), against sums over every path for
/// tiny cases and hand-computed values, and its gradient against finite differences through a log-softmax.
/// </summary>
public class CtcLossTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    /// <summary>A random case: log-softmax of random logits, per-row input lengths and targets (some with repeats).</summary>
    private sealed record Case(int Time, int Batch, int Classes, double[] Logits, double[] LogProbs, int[][] Targets, int[] InputLengths);

    private static Case Make(Random rng, int time, int batch, int classes, int maxTarget, bool allowImpossible = false)
    {
        var logits = Numerics.Uniform(rng, time * batch * classes, 3.0);
        var lengths = new int[batch];
        var targets = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            lengths[b] = b == 0 ? time : rng.Next(Math.Max(1, time / 2), time + 1);
            int want = rng.Next(0, maxTarget + 1);
            var labels = new List<int>();
            for (int s = 0; s < want; s++)
            {
                // Repeat the previous label now and then: such pairs need a blank between them.
                int label = labels.Count > 0 && rng.Next(3) == 0 ? labels[^1] : rng.Next(1, classes);
                var trial = labels.Append(label).ToList();
                if (!allowImpossible && trial.Count + Repeats(trial) > lengths[b])
                    break;
                labels = trial;
            }

            targets[b] = [.. labels];
        }

        return new Case(time, batch, classes, logits, LogSoftmax(logits, classes), targets, lengths);
    }

    private static int Repeats(IReadOnlyList<int> labels) => Enumerable.Range(1, Math.Max(0, labels.Count - 1)).Count(i => labels[i] == labels[i - 1]);

    internal static double[] LogSoftmax(double[] logits, int classes)
    {
        var lp = new double[logits.Length];
        for (int r = 0; r < logits.Length / classes; r++)
        {
            var row = logits.AsSpan(r * classes, classes);
            var (max, logSum) = SoftmaxReference.ShiftedLogSum(row);
            double lse = max + logSum;
            for (int c = 0; c < classes; c++)
                lp[r * classes + c] = row[c] - lse;
        }

        return lp;
    }

    private static T[] Cast<T>(double[] v) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T[])(object)v.Select(d => (float)d).ToArray() : (T[])(object)v;

    private static double[] Widen<T>(T[] v) where T : unmanaged => v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    private static (double Loss, double[] Rows, double[] Grad) Run<T>(string device, Case c, double[] logProbs, CtcReduction reduction, bool zeroInfinity, bool batchFirst = false)
        where T : unmanaged
    {
        var dev = TestDevices.Get(device);
        var input = batchFirst ? SwapTimeBatch(logProbs, c.Time, c.Batch, c.Classes) : logProbs;
        int[] shape = batchFirst ? [c.Batch, c.Time, c.Classes] : [c.Time, c.Batch, c.Classes];
        using var lp = Tensor<T>.FromArray(dev, Cast<T>(input), shape);
        var (loss, rows, grad) = CtcLoss.Compute(lp, c.Targets, c.InputLengths, reduction, zeroInfinity, batchFirst);
        using (grad)
        {
            var g = Widen(grad.ToArray());
            return (loss, rows, batchFirst ? SwapTimeBatch(g, c.Batch, c.Time, c.Classes) : g);
        }
    }

    /// <summary>[d0, d1, C] to [d1, d0, C].</summary>
    private static double[] SwapTimeBatch(double[] x, int d0, int d1, int classes)
    {
        var y = new double[x.Length];
        for (int i = 0; i < d0; i++)
        {
            for (int j = 0; j < d1; j++)
                Array.Copy(x, (i * d1 + j) * classes, y, (j * d0 + i) * classes, classes);
        }

        return y;
    }

    // T, B, C, S: ones, odd, and a batch past the CPU accelerator's group.
    private static readonly (int T, int B, int C, int S)[] Sizes = [(1, 1, 2, 1), (5, 3, 4, 3), (13, 7, 5, 6), (31, 37, 3, 12), (50, 2, 29, 20)];

    [Theory]
    [MemberData(nameof(Devices))]
    public void MatchesFloat64Reference_Float32(string device) => MatchesReference<float>(device, 2e-5, 1e-5);

    [Theory]
    [MemberData(nameof(Devices))]
    public void MatchesFloat64Reference_Float64(string device) => MatchesReference<double>(device, 1e-12, 1e-13);

    private void MatchesReference<T>(string device, double lossTolerance, double gradTolerance) where T : unmanaged
    {
        var rng = new Random(41);
        double worstLoss = 0;
        double worstGrad = 0;
        foreach (var (time, batch, classes, maxTarget) in Sizes)
        {
            foreach (var reduction in new[] { CtcReduction.Mean, CtcReduction.Sum, CtcReduction.None })
            {
                foreach (bool batchFirst in new[] { false, true })
                {
                    var c = Make(rng, time, batch, classes, maxTarget);
                    var seen = typeof(T) == typeof(float) ? Numerics.RoundToFloat(c.LogProbs) : c.LogProbs;
                    var expectedGrad = new double[seen.Length];
                    var expectedRows = new double[batch];
                    double expected = CtcReference.Loss(time, batch, classes, seen, c.Targets, c.InputLengths, reduction, false, expectedGrad, expectedRows);
                    var (loss, rows, grad) = Run<T>(device, c, seen, reduction, false, batchFirst);
                    string what = $"T {time} B {batch} C {classes} S {maxTarget} {reduction} batchFirst={batchFirst}";
                    double lossError = Math.Abs(loss - expected) / Math.Max(1, Math.Abs(expected));
                    Assert.True(lossError < lossTolerance, $"{what}: loss {loss} vs {expected}");
                    Assert.True(Numerics.MaxRelativeToLargest(rows, expectedRows) < lossTolerance, $"{what}: row losses differ");
                    // Each occupancy is e^(log Σαβ + nll − lp), a difference of numbers as large as the row's
                    // negative log-likelihood: its rounding grows with that magnitude.
                    double gradError = Numerics.MaxAbsError(grad, expectedGrad) / Math.Max(1, expectedRows.Max());
                    Assert.True(gradError < gradTolerance, $"{what}: gradient error {gradError:e2}");
                    worstLoss = Math.Max(worstLoss, lossError);
                    worstGrad = Math.Max(worstGrad, gradError);
                }
            }
        }

        output.WriteLine($"CTC {typeof(T).Name} on {device}: worst relative loss error {worstLoss:e2}, worst gradient error per unit of row loss {worstGrad:e2}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ImpossibleRows_AreInfiniteWithNaNGradient_OrZeroWithZeroInfinity(string device)
    {
        // Row 0: [1, 1] needs three steps (a blank between the repeats) but has two. Row 1 is possible.
        // Row 2: no steps, one label. Row 3: no steps, no labels: loss 0.
        var logits = Numerics.Uniform(new Random(5), 3 * 4 * 3, 2.0);
        var c = new Case(3, 4, 3, logits, LogSoftmax(logits, 3), [[1, 1], [2, 1], [2], []], [2, 3, 0, 0]);
        foreach (bool zero in new[] { false, true })
        {
            var expectedGrad = new double[c.LogProbs.Length];
            var expectedRows = new double[4];
            CtcReference.Loss(3, 4, 3, c.LogProbs, c.Targets, c.InputLengths, CtcReduction.Sum, zero, expectedGrad, expectedRows);
            var (loss, rows, grad) = Run<double>(device, c, c.LogProbs, CtcReduction.Sum, zero);
            Assert.Equal(zero ? 0 : double.PositiveInfinity, rows[0]);
            Assert.Equal(zero ? 0 : double.PositiveInfinity, rows[2]);
            Assert.Equal(0, rows[3]);
            Assert.True(double.IsFinite(rows[1]) && rows[1] > 0);
            Assert.Equal(zero ? rows[1] : double.PositiveInfinity, loss);
            for (int t = 0; t < 3; t++)
            {
                for (int k = 0; k < 3; k++)
                {
                    double g0 = grad[(t * 4 + 0) * 3 + k];
                    // Row 0's two steps: NaN as PyTorch (0 with zero-infinity); its third step is padding: 0.
                    if (t < 2)
                        Assert.True(zero ? g0 == 0 : double.IsNaN(g0), $"row 0 step {t} class {k}: {g0}");
                    else
                        Assert.Equal(0, g0);
                    Assert.Equal(expectedGrad[(t * 4 + 1) * 3 + k], grad[(t * 4 + 1) * 3 + k], 1e-13);
                    Assert.Equal(0, grad[(t * 4 + 2) * 3 + k]);
                    Assert.Equal(0, grad[(t * 4 + 3) * 3 + k]);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void TinyCases_MatchHandComputedValues(string device)
    {
        double half = Math.Log(0.5);
        // T 1, C 2, target [1]: the one path "1".
        var one = new Case(1, 1, 2, [], [Math.Log(0.3), Math.Log(0.7)], [[1]], [1]);
        Assert.Equal(-Math.Log(0.7), Run<double>(device, one, one.LogProbs, CtcReduction.Sum, false).Loss, 1e-14);
        // T 2, uniform over {blank, 1}, target [1]: paths 11, 01, 10 → p = 3/4.
        var two = new Case(2, 1, 2, [], [half, half, half, half], [[1]], [2]);
        var (loss, _, grad) = Run<double>(device, two, two.LogProbs, CtcReduction.Sum, false);
        Assert.Equal(Math.Log(4.0 / 3), loss, 1e-14);
        // γ at step 0: blank on path 01 (1/3), label on 11 and 10 (2/3); gradient e^lp − γ.
        Assert.Equal(0.5 - 1.0 / 3, grad[0], 1e-14);
        Assert.Equal(0.5 - 2.0 / 3, grad[1], 1e-14);
        // T 3, target [1, 1]: only "1 blank 1".
        double[] y = [0.2, 0.8, 0.6, 0.4, 0.1, 0.9];
        var repeat = new Case(3, 1, 2, [], y.Select(v => Math.Log(v)).ToArray(), [[1, 1]], [3]);
        var r = Run<double>(device, repeat, repeat.LogProbs, CtcReduction.Mean, false);
        Assert.Equal(-Math.Log(0.8 * 0.6 * 0.9), r.Rows[0], 1e-14);
        Assert.Equal(-Math.Log(0.8 * 0.6 * 0.9) / 2, r.Loss, 1e-14);
        // Empty target: every step blank.
        var empty = new Case(3, 1, 2, [], y.Select(v => Math.Log(v)).ToArray(), [[]], [3]);
        Assert.Equal(-Math.Log(0.2 * 0.6 * 0.1), Run<double>(device, empty, empty.LogProbs, CtcReduction.Mean, false).Loss, 1e-14);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Loss_EqualsSumOverEveryPath(string device)
    {
        var rng = new Random(9);
        foreach (var (time, classes, target) in new (int, int, int[])[] { (4, 3, [1, 2]), (5, 3, [2, 2]), (6, 4, [3, 1, 3]), (3, 2, [1, 1]), (5, 2, []) })
        {
            var logits = Numerics.Uniform(rng, time * classes, 2.0);
            var c = new Case(time, 1, classes, logits, LogSoftmax(logits, classes), [target], [time]);
            double p = 0;
            var path = new int[time];
            for (long code = 0; code < (long)Math.Pow(classes, time); code++)
            {
                long rest = code;
                double logp = 0;
                for (int t = 0; t < time; t++)
                {
                    path[t] = (int)(rest % classes);
                    rest /= classes;
                    logp += c.LogProbs[t * classes + path[t]];
                }

                if (Collapse(path).SequenceEqual(target))
                    p += Math.Exp(logp);
            }

            double loss = Run<double>(device, c, c.LogProbs, CtcReduction.Sum, false).Loss;
            Assert.Equal(-Math.Log(p), loss, 1e-12);
        }
    }

    /// <summary>Merges repeats, then drops blanks.</summary>
    private static int[] Collapse(int[] path) => path.Where((k, t) => k != 0 && (t == 0 || path[t - 1] != k)).ToArray();

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Gradient_MatchesFiniteDifferencesThroughLogSoftmax(string device)
    {
        var rng = new Random(17);
        var c = Make(rng, 7, 3, 4, 4);
        c = c with { Targets = [[1, 1, 2], [3], []] };
        const double h = 1e-6;
        var (_, _, grad) = Run<double>(device, c, c.LogProbs, CtcReduction.Mean, false);
        double worst = 0;
        for (int i = 0; i < c.Logits.Length; i++)
        {
            var plus = (double[])c.Logits.Clone();
            var minus = (double[])c.Logits.Clone();
            plus[i] += h;
            minus[i] -= h;
            double lp = Run<double>(device, c, LogSoftmax(plus, c.Classes), CtcReduction.Mean, false).Loss;
            double lm = Run<double>(device, c, LogSoftmax(minus, c.Classes), CtcReduction.Mean, false).Loss;
            double numeric = (lp - lm) / (2 * h);
            worst = Math.Max(worst, Math.Abs(numeric - grad[i]));
        }

        output.WriteLine($"{device}: worst |analytic − numeric| {worst:e2} over {c.Logits.Length} logits");
        Assert.True(worst < 1e-8, $"gradient vs finite differences: {worst:e2}");
    }

    [Theory]
    [InlineData("float32")]
    [InlineData("float64")]
    public void CpuBackend_MatchesTheIlgpuKernelBitForBit(string dtype)
    {
        var c = Make(new Random(23), 29, 37, 6, 9);
        foreach (bool batchFirst in new[] { false, true })
        {
            if (dtype == "float32")
                SameBits<float>(c, batchFirst);
            else
                SameBits<double>(c, batchFirst);
        }
    }

    private static void SameBits<T>(Case c, bool batchFirst) where T : unmanaged
    {
        var a = Run<T>("cpu", c, c.LogProbs, CtcReduction.Mean, false, batchFirst);
        var b = Run<T>("ilgpu-cpu", c, c.LogProbs, CtcReduction.Mean, false, batchFirst);
        Assert.Equal(a.Rows, b.Rows);
        Assert.Equal(a.Grad, b.Grad);
    }

    [Fact]
    public void BadInput_NamesTheProblem()
    {
        var dev = TestDevices.Get("cpu");
        using var lp = Tensor<double>.Zeros(dev, 4, 2, 3);
        Assert.Equal("CTC loss: label 3 at row 1, position 0 is not a class in [1, 3) (0 is the blank)",
            Assert.Throws<LstmException>(() => CtcLoss.Compute(lp, [[1], [3]])).Message);
        Assert.Equal("CTC loss: label 0 at row 0, position 1 is not a class in [1, 3) (0 is the blank)",
            Assert.Throws<LstmException>(() => CtcLoss.Compute(lp, [[1, 0], [2]])).Message);
        Assert.Equal("CTC loss: input length 5 of row 0 outside [0, 4]",
            Assert.Throws<LstmException>(() => CtcLoss.Compute(lp, [[1], [2]], [5, 1])).Message);
        Assert.Equal("CTC loss: 1 target sequences for 2 batch rows",
            Assert.Throws<LstmException>(() => CtcLoss.Compute(lp, [[1]])).Message);
    }
}
