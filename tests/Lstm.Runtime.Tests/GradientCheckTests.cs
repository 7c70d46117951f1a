using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The analytic gradients of a whole multi-layer LSTM against central finite differences in
/// float64: loss = Σ output·dy + Σ h_n·dhn + Σ c_n·dcn, perturbing inputs, initial states and
/// parameter entries by ±1e-6; one and two directions, with and without a projection, with and
/// without sequence lengths.
/// </summary>
public class GradientCheckTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            yield return [device[0], false, true, false, 0, false];
            yield return [device[0], true, false, false, 0, false];
            yield return [device[0], false, true, true, 0, false];
            yield return [device[0], true, true, false, 3, false];
            yield return [device[0], false, false, true, 2, false];
            yield return [device[0], false, true, true, 2, true];
            yield return [device[0], true, true, false, 0, true];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesCentralFiniteDifferences_Float64(string deviceName, bool batchFirst, bool bias, bool bidirectional, int projSize, bool withLengths)
    {
        const int I = 3, H = 4, L = 2, S = 5, B = 2;
        const double eps = 1e-6;
        int d = bidirectional ? 2 : 1;
        int hOut = projSize > 0 ? projSize : H;
        int ld = L * d;
        var device = TestDevices.Get(deviceName);
        using var lstm = new LSTM<double>(device, new LSTMOptions(I, H, L, bias, batchFirst, Bidirectional: bidirectional, ProjSize: projSize), seed: 11);
        var rng = new Random(23);
        int[] xShape = batchFirst ? [B, S, I] : [S, B, I];
        int[] outShape = batchFirst ? [B, S, d * hOut] : [S, B, d * hOut];
        var x = Numerics.Uniform(rng, S * B * I);
        var h0 = Numerics.Uniform(rng, ld * B * hOut);
        var c0 = Numerics.Uniform(rng, ld * B * H);
        var dy = Numerics.Uniform(rng, S * B * d * hOut);
        var dhn = Numerics.Uniform(rng, ld * B * hOut);
        var dcn = Numerics.Uniform(rng, ld * B * H);
        int[]? lengths = withLengths ? [3, 5] : null;

        double Loss(double[] xv, double[] h0v, double[] c0v)
        {
            using var tx = Tensor<double>.FromArray(device, xv, xShape);
            using var th = Tensor<double>.FromArray(device, h0v, ld, B, hOut);
            using var tc = Tensor<double>.FromArray(device, c0v, ld, B, H);
            using var r = lstm.Forward(tx, th, tc, lengths: lengths);
            return Dot(r.Output.ToArray(), dy) + Dot(r.HN.ToArray(), dhn) + Dot(r.CN.ToArray(), dcn);
        }

        // Analytic gradients.
        lstm.ZeroGrad();
        using var tx = Tensor<double>.FromArray(device, x, xShape);
        using var th = Tensor<double>.FromArray(device, h0, ld, B, hOut);
        using var tc = Tensor<double>.FromArray(device, c0, ld, B, H);
        using var result = lstm.Forward(tx, th, tc, training: true, lengths: lengths);
        using var tdy = Tensor<double>.FromArray(device, dy, outShape);
        using var tdh = Tensor<double>.FromArray(device, dhn, ld, B, hOut);
        using var tdc = Tensor<double>.FromArray(device, dcn, ld, B, H);
        using var grads = lstm.Backward(result, tdy, tdh, tdc);
        var gx = grads.DX.ToArray();
        var gh = grads.DH0.ToArray();
        var gc = grads.DC0.ToArray();

        double worst = 0;
        void Compare(string what, double analytic, double numeric)
        {
            double err = Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric));
            worst = Math.Max(worst, err);
            Assert.True(err < 1e-7, $"{what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        // Every entry of x, h0 and c0.
        foreach (var (name, values, analytic) in new[] { ("x", x, gx), ("h0", h0, gh), ("c0", c0, gc) })
        {
            for (int i = 0; i < values.Length; i++)
            {
                double keep = values[i];
                values[i] = keep + eps;
                double plus = Loss(x, h0, c0);
                values[i] = keep - eps;
                double minus = Loss(x, h0, c0);
                values[i] = keep;
                Compare($"{name}[{i}]", analytic[i], (plus - minus) / (2 * eps));
            }
        }

        // A spread of entries of every parameter (first, last and some in between).
        foreach (var p in lstm.Parameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            var picks = new SortedSet<int> { 0, values.Length - 1 };
            for (int k = 0; k < 6; k++)
                picks.Add(rng.Next(values.Length));
            foreach (int i in picks)
            {
                double keep = values[i];
                values[i] = keep + eps;
                p.Value.CopyFrom(values);
                double plus = Loss(x, h0, c0);
                values[i] = keep - eps;
                p.Value.CopyFrom(values);
                double minus = Loss(x, h0, c0);
                values[i] = keep;
                p.Value.CopyFrom(values);
                Compare($"{p.Name}[{i}]", analytic[i], (plus - minus) / (2 * eps));
            }
        }

        Assert.True(worst < 1e-7);
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }
}
