using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Variable-length batches (PyTorch's packed sequences): a padded batch with lengths in any order
/// (including 0, 1 and T) gives, row by row, what each sequence gives run alone (forward and
/// every gradient), for LSTM, GRU and RNN, one and two directions, in float64.
/// </summary>
public class VariableLengthTests
{
    private const int I = 2, H = 3, L = 2, S = 5;
    private static readonly int[] Lengths = [3, 0, 5, 1, 5, 2];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var cell in new[] { "lstm", "lstm-proj", "gru", "rnn-tanh", "rnn-relu" })
            {
                yield return [device[0], cell, false, false];
                yield return [device[0], cell, true, true];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PaddedBatch_EqualsEachSequenceAlone(string deviceName, string cell, bool bidirectional, bool batchFirst)
    {
        var device = TestDevices.Get(deviceName);
        using var net = Net.Create(device, cell, bidirectional, batchFirst);
        int b = Lengths.Length;
        int d = bidirectional ? 2 : 1;
        int ld = L * d;
        int hOut = net.OutSize;
        int w = d * hOut;
        var rng = new Random(41);
        var x = Numerics.Uniform(rng, S * b * I);
        var h0 = Numerics.Uniform(rng, ld * b * hOut);
        var c0 = Numerics.Uniform(rng, ld * b * H);
        var dy = Numerics.Uniform(rng, S * b * w);
        var dhn = Numerics.Uniform(rng, ld * b * hOut);
        var dcn = Numerics.Uniform(rng, ld * b * H);

        // [T, B, F] or [B, T, F] element (t, row, f).
        int At(int t, int row, int f, int width, int batch) => batchFirst ? (row * S + t) * width + f : (t * batch + row) * width + f;

        // The padded batch.
        net.ZeroGrad();
        int[] xShape = batchFirst ? [b, S, I] : [S, b, I];
        int[] yShape = batchFirst ? [b, S, w] : [S, b, w];
        var (outP, hnP, cnP, dxP, dh0P, dc0P) = net.Run(x, xShape, h0, c0, dy, yShape, dhn, dcn, b, Lengths);
        var gradsP = net.Grads();

        // Each sequence alone (gradients accumulate over the calls); length 0 runs nothing.
        net.ZeroGrad();
        for (int row = 0; row < b; row++)
        {
            int len = Lengths[row];
            var h0r = StateRow(h0, ld, b, hOut, row);
            var c0r = StateRow(c0, ld, b, H, row);
            var dhnr = StateRow(dhn, ld, b, hOut, row);
            var dcnr = StateRow(dcn, ld, b, H, row);
            if (len == 0)
            {
                AssertClose(h0r, StateRow(hnP, ld, b, hOut, row), $"h_n row {row} (length 0)");
                AssertClose(dhnr, StateRow(dh0P, ld, b, hOut, row), $"dh0 row {row} (length 0)");
                if (net.HasCell)
                {
                    AssertClose(c0r, StateRow(cnP, ld, b, H, row), $"c_n row {row} (length 0)");
                    AssertClose(dcnr, StateRow(dc0P, ld, b, H, row), $"dc0 row {row} (length 0)");
                }
            }
            else
            {
                var xr = new double[len * I];
                var dyr = new double[len * w];
                for (int t = 0; t < len; t++)
                {
                    for (int f = 0; f < I; f++)
                        xr[t * I + f] = x[At(t, row, f, I, b)];
                    for (int f = 0; f < w; f++)
                        dyr[t * w + f] = dy[At(t, row, f, w, b)];
                }

                int[] xs = batchFirst ? [1, len, I] : [len, 1, I];
                int[] ys = batchFirst ? [1, len, w] : [len, 1, w];
                var (outR, hnR, cnR, dxR, dh0R, dc0R) = net.Run(xr, xs, h0r, c0r, dyr, ys, dhnr, dcnr, 1, null);
                AssertClose(hnR, StateRow(hnP, ld, b, hOut, row), $"h_n row {row}");
                AssertClose(dh0R, StateRow(dh0P, ld, b, hOut, row), $"dh0 row {row}");
                if (net.HasCell)
                {
                    AssertClose(cnR, StateRow(cnP, ld, b, H, row), $"c_n row {row}");
                    AssertClose(dc0R, StateRow(dc0P, ld, b, H, row), $"dc0 row {row}");
                }

                for (int t = 0; t < len; t++)
                {
                    for (int f = 0; f < w; f++)
                        AssertClose(outR[t * w + f], outP[At(t, row, f, w, b)], $"output[t={t}, row={row}, {f}]");
                    for (int f = 0; f < I; f++)
                        AssertClose(dxR[t * I + f], dxP[At(t, row, f, I, b)], $"dx[t={t}, row={row}, {f}]");
                }
            }

            // Past the length: output and dx are exactly 0.
            for (int t = len; t < S; t++)
            {
                for (int f = 0; f < w; f++)
                    Assert.Equal(0.0, outP[At(t, row, f, w, b)]);
                for (int f = 0; f < I; f++)
                    Assert.Equal(0.0, dxP[At(t, row, f, I, b)]);
            }
        }

        var gradsA = net.Grads();
        foreach (var (name, g) in gradsP)
            AssertClose(gradsA[name], g, $"grad.{name}");
    }

    [Fact]
    public void Lengths_OutsideRange_AreAClearError()
    {
        var device = TestDevices.Get("ilgpu-cpu");
        using var gru = new GRU<double>(device, new GRUOptions(I, H));
        using var x = Tensor<double>.Zeros(device, S, 2, I);
        var e = Assert.Throws<LstmException>(() => gru.Forward(x, lengths: [5, 6]));
        Assert.Contains("lengths[1] = 6 is outside [0, seq_len = 5]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LstmException>(() => gru.Forward(x, lengths: [-1, 2]));
        Assert.Contains("lengths[0] = -1", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LstmException>(() => gru.Forward(x, lengths: [1]));
        Assert.Contains("lengths has 1 entries; expected one per sequence (batch = 2)", e.Message, StringComparison.Ordinal);
    }

    private static double[] StateRow(double[] state, int ld, int batch, int width, int row)
    {
        var r = new double[ld * width];
        for (int j = 0; j < ld; j++)
            Array.Copy(state, (j * batch + row) * width, r, j * width, width);
        return r;
    }

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual:R} vs alone {expected:R}");

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            AssertClose(expected[i], actual[i], $"{what}[{i}]");
    }

    /// <summary>An LSTM, GRU or RNN behind one shape, so the check is written once.</summary>
    private sealed class Net : IDisposable
    {
        private readonly ComputeDevice _device;
        private readonly LSTM<double>? _lstm;
        private readonly GRU<double>? _gru;
        private readonly RNN<double>? _rnn;

        private Net(ComputeDevice device, LSTM<double>? lstm, GRU<double>? gru, RNN<double>? rnn)
        {
            _device = device;
            _lstm = lstm;
            _gru = gru;
            _rnn = rnn;
        }

        public bool HasCell => _lstm is not null;

        public int OutSize => _lstm?.Options.ProjSize is > 0 and var p ? p : H;

        public static Net Create(ComputeDevice device, string cell, bool bidirectional, bool batchFirst) => cell switch
        {
            "lstm" => new Net(device, new LSTM<double>(device, new LSTMOptions(I, H, L, true, batchFirst, Bidirectional: bidirectional), seed: 3), null, null),
            "lstm-proj" => new Net(device, new LSTM<double>(device, new LSTMOptions(I, H, L, true, batchFirst, Bidirectional: bidirectional, ProjSize: 2), seed: 3), null, null),
            "gru" => new Net(device, null, new GRU<double>(device, new GRUOptions(I, H, L, true, batchFirst, Bidirectional: bidirectional), seed: 3), null),
            _ => new Net(device, null, null, new RNN<double>(device, new RNNOptions(I, H, L, cell == "rnn-relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, true, batchFirst, Bidirectional: bidirectional), seed: 3)),
        };

        private IEnumerable<Parameter<double>> Parameters() => _lstm?.Parameters() ?? _gru?.Parameters() ?? _rnn!.Parameters();

        public void ZeroGrad()
        {
            foreach (var p in Parameters())
                p.ZeroGrad();
        }

        public Dictionary<string, double[]> Grads() => Parameters().ToDictionary(p => p.Name, p => p.Grad.ToArray());

        public (double[] Out, double[] HN, double[] CN, double[] DX, double[] DH0, double[] DC0) Run(
            double[] x, int[] xShape, double[] h0, double[] c0, double[] dy, int[] yShape, double[] dhn, double[] dcn, int batch, int[]? lengths)
        {
            int ld = h0.Length / batch / OutSize;
            using var tx = Tensor<double>.FromArray(_device, x, xShape);
            using var th = Tensor<double>.FromArray(_device, h0, ld, batch, OutSize);
            using var tc = Tensor<double>.FromArray(_device, c0, ld, batch, H);
            using var tdy = Tensor<double>.FromArray(_device, dy, yShape);
            using var tdh = Tensor<double>.FromArray(_device, dhn, ld, batch, OutSize);
            using var tdc = Tensor<double>.FromArray(_device, dcn, ld, batch, H);
            if (_lstm is not null)
            {
                using var r = _lstm.Forward(tx, th, tc, training: true, lengths: lengths);
                using var g = _lstm.Backward(r, tdy, tdh, tdc);
                return (r.Output.ToArray(), r.HN.ToArray(), r.CN.ToArray(), g.DX.ToArray(), g.DH0.ToArray(), g.DC0.ToArray());
            }

            using var res = _gru is not null ? _gru.Forward(tx, th, training: true, lengths: lengths) : _rnn!.Forward(tx, th, training: true, lengths: lengths);
            using var grads = _gru is not null ? _gru.Backward(res, tdy, tdh) : _rnn!.Backward(res, tdy, tdh);
            return (res.Output.ToArray(), res.HN.ToArray(), [], grads.DX.ToArray(), grads.DH0.ToArray(), []);
        }

        public void Dispose()
        {
            _lstm?.Dispose();
            _gru?.Dispose();
            _rnn?.Dispose();
        }
    }
}
