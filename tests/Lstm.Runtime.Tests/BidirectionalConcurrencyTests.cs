using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// A bidirectional layer's two directions run concurrently (two streams on ILGPU devices, two
/// threads on <c>cpu</c>) and give, bit for bit, what they give one after the other: output,
/// h_n, c_n, dx, dh0, dc0 and every parameter gradient, for LSTM (with and without proj_size),
/// GRU and RNN, two layers, with and without variable lengths, in float32.
/// </summary>
public class BidirectionalConcurrencyTests
{
    private static readonly string[] Cells = ["lstm", "lstm-proj", "gru", "rnn-tanh"];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var cell in Cells)
            {
                yield return [device[0], cell, false, false];
                yield return [device[0], cell, true, true];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Concurrent_EqualsSequential_Bitwise(string deviceName, string cell, bool withLengths, bool batchFirst)
    {
        var device = TestDevices.Get(deviceName);
        // Small shapes on ILGPU's CPU simulator; on cpu large enough that GEMMs and cells split across cores.
        bool host = device.Info.Kind == DeviceKind.Cpu;
        int i = host ? 37 : 3, h = host ? 67 : 5, b = host ? 9 : 4, s = host ? 11 : 5, p = host ? 29 : 3;
        const int L = 2;
        int[]? lengths = !withLengths ? null : host ? [11, 0, 4, 11, 1, 7, 3, 9, 2] : [3, 0, 5, 1];
        int hOut = cell == "lstm-proj" ? p : h;
        int w = 2 * hOut;
        var rng = new Random(17);
        var x = BitwiseResults.Uniform(rng, s * b * i);
        var h0 = BitwiseResults.Uniform(rng, 2 * L * b * hOut);
        var c0 = BitwiseResults.Uniform(rng, 2 * L * b * h);
        var dy = BitwiseResults.Uniform(rng, s * b * w);
        var dhn = BitwiseResults.Uniform(rng, 2 * L * b * hOut);
        var dcn = BitwiseResults.Uniform(rng, 2 * L * b * h);
        int[] xShape = batchFirst ? [b, s, i] : [s, b, i];
        int[] yShape = batchFirst ? [b, s, w] : [s, b, w];

        Dictionary<string, float[]> Run(bool concurrent)
        {
            using var net = new Net(device, cell, i, h, L, p, batchFirst) { Concurrent = concurrent };
            return net.Run(x, xShape, h0, c0, dy, yShape, dhn, dcn, b, hOut, lengths);
        }

        var sequential = Run(false);
        var concurrent = Run(true);
        BitwiseResults.AssertEqual(sequential, concurrent, $"{cell} on {deviceName}", "concurrent", "sequential");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void Lanes_AreDistinctOperations_MadeOnFirstUse(string deviceName)
    {
        var device = TestDevices.Get(deviceName);
        Assert.Same(device.Ops<float>(), device.Ops<float>(0));
        Assert.NotSame(device.Ops<float>(0), device.Ops<float>(1));
        Assert.Same(device.Ops<double>(1), device.Ops<double>(1));
        var third = device.Ops<float>(3);
        Assert.Same(third, device.Ops<float>(3));
        Assert.NotSame(third, device.Ops<float>(2));
        Assert.NotSame(third, device.Ops<float>(1));
        var e = Assert.Throws<LstmException>(() => device.Ops<float>(-1));
        Assert.Contains("device lane -1 does not exist", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LstmException>(() => device.Ops<float>(ComputeDevice.MaxLanes));
        Assert.Contains($"device lane {ComputeDevice.MaxLanes} does not exist", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A bidirectional LSTM, GRU or RNN behind one shape.</summary>
    private sealed class Net : IDisposable
    {
        private readonly ComputeDevice _device;
        private readonly LSTM<float>? _lstm;
        private readonly GRU<float>? _gru;
        private readonly RNN<float>? _rnn;
        private readonly int _hidden;

        public Net(ComputeDevice device, string cell, int input, int hidden, int layers, int proj, bool batchFirst)
        {
            _device = device;
            _hidden = hidden;
            switch (cell)
            {
                case "lstm":
                    _lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, layers, true, batchFirst, Bidirectional: true), seed: 5);
                    break;
                case "lstm-proj":
                    _lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, layers, true, batchFirst, Bidirectional: true, ProjSize: proj), seed: 5);
                    break;
                case "gru":
                    _gru = new GRU<float>(device, new GRUOptions(input, hidden, layers, true, batchFirst, Bidirectional: true), seed: 5);
                    break;
                default:
                    _rnn = new RNN<float>(device, new RNNOptions(input, hidden, layers, RnnNonlinearity.Tanh, true, batchFirst, Bidirectional: true), seed: 5);
                    break;
            }
        }

        public bool Concurrent
        {
            init
            {
                if (_lstm is not null)
                    _lstm.ConcurrentDirections = value;
                if (_gru is not null)
                    _gru.ConcurrentDirections = value;
                if (_rnn is not null)
                    _rnn.ConcurrentDirections = value;
            }
        }

        private IEnumerable<Parameter<float>> Parameters() => _lstm?.Parameters() ?? _gru?.Parameters() ?? _rnn!.Parameters();

        /// <summary>Forward (training) and backward; every result and gradient by name.</summary>
        public Dictionary<string, float[]> Run(
            float[] x, int[] xShape, float[] h0, float[] c0, float[] dy, int[] yShape, float[] dhn, float[] dcn, int batch, int hOut, int[]? lengths)
        {
            int ld = h0.Length / batch / hOut;
            using var tx = Tensor<float>.FromArray(_device, x, xShape);
            using var th = Tensor<float>.FromArray(_device, h0, ld, batch, hOut);
            using var tc = Tensor<float>.FromArray(_device, c0, ld, batch, _hidden);
            using var tdy = Tensor<float>.FromArray(_device, dy, yShape);
            using var tdh = Tensor<float>.FromArray(_device, dhn, ld, batch, hOut);
            using var tdc = Tensor<float>.FromArray(_device, dcn, ld, batch, _hidden);
            var all = new Dictionary<string, float[]>();
            if (_lstm is not null)
            {
                using var r = _lstm.Forward(tx, th, tc, training: true, lengths: lengths);
                using var g = _lstm.Backward(r, tdy, tdh, tdc);
                BitwiseResults.AddLstm(all, r, g);
            }
            else
            {
                using var r = _gru is not null ? _gru.Forward(tx, th, training: true, lengths: lengths) : _rnn!.Forward(tx, th, training: true, lengths: lengths);
                using var g = _gru is not null ? _gru.Backward(r, tdy, tdh) : _rnn!.Backward(r, tdy, tdh);
                all["output"] = r.Output.ToArray();
                all["h_n"] = r.HN.ToArray();
                all["dx"] = g.DX.ToArray();
                all["dh0"] = g.DH0.ToArray();
            }

            foreach (var p in Parameters())
                all["grad." + p.Name] = p.Grad.ToArray();
            return all;
        }

        public void Dispose()
        {
            _lstm?.Dispose();
            _gru?.Dispose();
            _rnn?.Dispose();
        }
    }
}
