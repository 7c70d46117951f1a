using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The analytic gradients of whole multi-layer GRU and RNN networks against central finite
/// differences in float64: loss = Σ output·dy + Σ h_n·dhn, perturbing x, h0 and parameter
/// entries by ±1e-6; one and two directions, with and without biases.
/// </summary>
public class GruRnnGradientCheckTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            yield return [device[0], "gru", false, true, false];
            yield return [device[0], "gru", true, false, true];
            yield return [device[0], "rnn-tanh", false, true, true];
            yield return [device[0], "rnn-tanh", true, false, false];
            yield return [device[0], "rnn-relu", false, true, true];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesCentralFiniteDifferences_Float64(string deviceName, string cell, bool batchFirst, bool bias, bool bidirectional)
    {
        const int I = 3, H = 4, L = 2, S = 4, B = 2;
        const double eps = 1e-6;
        int d = bidirectional ? 2 : 1;
        int ld = L * d;
        var device = TestDevices.Get(deviceName);
        var net = Net.Create(device, cell, new GRUOptions(I, H, L, bias, batchFirst, Bidirectional: bidirectional));
        using var _ = net;
        var rng = new Random(29);
        int[] xShape = batchFirst ? [B, S, I] : [S, B, I];
        int[] outShape = batchFirst ? [B, S, d * H] : [S, B, d * H];
        var x = Numerics.Uniform(rng, S * B * I);
        var h0 = Numerics.Uniform(rng, ld * B * H);
        var dy = Numerics.Uniform(rng, S * B * d * H);
        var dhn = Numerics.Uniform(rng, ld * B * H);

        double Loss(double[] xv, double[] h0v)
        {
            using var tx = Tensor<double>.FromArray(device, xv, xShape);
            using var th = Tensor<double>.FromArray(device, h0v, ld, B, H);
            using var r = net.Forward(tx, th, false);
            return Dot(r.Output.ToArray(), dy) + Dot(r.HN.ToArray(), dhn);
        }

        foreach (var p in net.Parameters)
            p.ZeroGrad();
        using var tx = Tensor<double>.FromArray(device, x, xShape);
        using var th = Tensor<double>.FromArray(device, h0, ld, B, H);
        using var result = net.Forward(tx, th, true);
        using var tdy = Tensor<double>.FromArray(device, dy, outShape);
        using var tdh = Tensor<double>.FromArray(device, dhn, ld, B, H);
        using var grads = net.Backward(result, tdy, tdh);
        var gx = grads.DX.ToArray();
        var gh = grads.DH0.ToArray();

        double worst = 0;
        void Compare(string what, double analytic, double numeric)
        {
            double err = Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric));
            worst = Math.Max(worst, err);
            Assert.True(err < 1e-7, $"{cell} {what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        foreach (var (name, values, analytic) in new[] { ("x", x, gx), ("h0", h0, gh) })
        {
            for (int i = 0; i < values.Length; i++)
            {
                double keep = values[i];
                values[i] = keep + eps;
                double plus = Loss(x, h0);
                values[i] = keep - eps;
                double minus = Loss(x, h0);
                values[i] = keep;
                Compare($"{name}[{i}]", analytic[i], (plus - minus) / (2 * eps));
            }
        }

        foreach (var p in net.Parameters)
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
                double plus = Loss(x, h0);
                values[i] = keep - eps;
                p.Value.CopyFrom(values);
                double minus = Loss(x, h0);
                values[i] = keep;
                p.Value.CopyFrom(values);
                Compare($"{p.Name}[{i}]", analytic[i], (plus - minus) / (2 * eps));
            }
        }

        Assert.True(worst < 1e-7);
    }

    /// <summary>A GRU or an RNN behind one shape, so the check is written once.</summary>
    private sealed class Net(
        IDisposable owner,
        IReadOnlyList<Parameter<double>> parameters,
        Func<Tensor<double>, Tensor<double>, bool, RecurrentResult<double>> forward,
        Func<RecurrentResult<double>, Tensor<double>, Tensor<double>, RecurrentGradients<double>> backward) : IDisposable
    {
        public IReadOnlyList<Parameter<double>> Parameters => parameters;

        public static Net Create(Lstm.Runtime.Devices.ComputeDevice device, string cell, GRUOptions o)
        {
            if (cell == "gru")
            {
                var gru = new GRU<double>(device, o, seed: 5);
                return new Net(gru, gru.Parameters().ToList(), (x, h, t) => gru.Forward(x, h, t), (r, dy, dh) => gru.Backward(r, dy, dh));
            }

            var act = cell == "rnn-relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;
            var rnn = new RNN<double>(device, new RNNOptions(o.InputSize, o.HiddenSize, o.NumLayers, act, o.Bias, o.BatchFirst, Bidirectional: o.Bidirectional), seed: 5);
            return new Net(rnn, rnn.Parameters().ToList(), (x, h, t) => rnn.Forward(x, h, t), (r, dy, dh) => rnn.Backward(r, dy, dh));
        }

        public RecurrentResult<double> Forward(Tensor<double> x, Tensor<double> h0, bool training) => forward(x, h0, training);

        public RecurrentGradients<double> Backward(RecurrentResult<double> r, Tensor<double> dy, Tensor<double> dhn) => backward(r, dy, dhn);

        public void Dispose() => owner.Dispose();
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }
}
