using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Stacked one-direction layers run as a wavefront over blocks of steps (layer k on lane k:
/// a stream of its own on ILGPU devices, a thread of its own on <c>cpu</c>) and give, bit for
/// bit, what they give layer after layer: output, h_n, c_n, dx, dh0, dc0, every parameter
/// gradient and the inference outputs, for LSTM (with and without proj_size), GRU and RNN, 2 and
/// 3 layers, blocks of 1 step, 3 steps (not dividing T) and at least T steps, with and without
/// dropout and variable lengths, in float32 (and one float64 case); plus the schedulers themselves.
/// </summary>
/// <remarks>
/// The wavefront issues the input projection of the layers above the first (and the d input of
/// the layers above the first) one block of rows at a time instead of one GEMM over all T·B rows.
/// Checked first, per backend: the ILGPU kernels (tiled and row-dot) sum each element of C over K
/// in order whatever its row or M, so a block of rows is bit-identical to the same rows of the
/// whole product. The <c>cpu</c> GEMM is row-independent within each of its two kernels, but picks
/// its few-rows kernel for at most <c>CpuOps.FewRowsMax</c> (96) rows and the blocked one above,
/// which need not sum in the same order: with plain GEMMs on the blocks, the outputs here came out a few ulps off
/// (about 1e-6 relative after the recurrence). The blocks therefore go through
/// <see cref="IDeviceOps{T}.GemmRows"/>, which picks the kernel by the whole product's rows, and
/// every comparison here is exact.
/// </remarks>
public class WavefrontTests
{
    private static readonly string[] Cells = ["lstm", "lstm-proj", "gru", "rnn-tanh"];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var cell in Cells)
            {
                foreach (int layers in new[] { 2, 3 })
                {
                    // Block 1, 3 (T is 11 on cpu and 5 on ilgpu-cpu: neither a multiple of 3), more than T, and 0 (⌈T / 8⌉).
                    foreach (int block in new[] { 1, 3, 100 })
                    {
                        yield return [device[0], cell, layers, block, false, false, false];
                        yield return [device[0], cell, layers, block, true, true, true];
                    }

                    yield return [device[0], cell, layers, 3, false, true, false];
                    yield return [device[0], cell, layers, 0, true, false, true];
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Wavefront_EqualsLayerAfterLayer_Bitwise(string deviceName, string cell, int layers, int block, bool withLengths, bool dropout, bool batchFirst)
    {
        var device = TestDevices.Get(deviceName);
        // Small shapes on ILGPU's CPU simulator; on cpu T·B = 99 rows, so the whole input GEMM takes
        // the packed kernel while a block of 1 or 3 steps (9 or 27 rows) alone would take the other.
        bool host = device.Info.Kind == DeviceKind.Cpu;
        int i = host ? 37 : 3, h = host ? 67 : 5, b = host ? 9 : 4, s = host ? 11 : 5, p = host ? 29 : 3;
        int[]? lengths = !withLengths ? null : host ? [11, 0, 4, 11, 1, 7, 3, 9, 2] : [3, 0, 5, 1];
        int hOut = cell == "lstm-proj" ? p : h;
        var rng = new Random(23);
        var x = BitwiseResults.Uniform(rng, s * b * i);
        var h0 = BitwiseResults.Uniform(rng, layers * b * hOut);
        var c0 = BitwiseResults.Uniform(rng, layers * b * h);
        var dy = BitwiseResults.Uniform(rng, s * b * hOut);
        var dhn = BitwiseResults.Uniform(rng, layers * b * hOut);
        var dcn = BitwiseResults.Uniform(rng, layers * b * h);
        int[] xShape = batchFirst ? [b, s, i] : [s, b, i];
        int[] yShape = batchFirst ? [b, s, hOut] : [s, b, hOut];

        Dictionary<string, float[]> Run(bool wavefront)
        {
            using var net = new Net(device, cell, i, h, layers, p, batchFirst, dropout ? 0.3 : 0);
            net.SetWavefront(wavefront, block);
            return net.Run(x, xShape, h0, c0, dy, yShape, dhn, dcn, b, hOut, lengths);
        }

        var sequential = Run(false);
        var wave = Run(true);
        BitwiseResults.AssertEqual(sequential, wave, $"{cell} L={layers} block={block} on {deviceName}", "wavefront", "layer after layer");

        if (dropout)
        {
            // The dropout really dropped: some of layer 0's gradient paths are cut, so dx differs from a run without it.
            using var plain = new Net(device, cell, i, h, layers, p, batchFirst, 0);
            var undropped = plain.Run(x, xShape, h0, c0, dy, yShape, dhn, dcn, b, hOut, lengths);
            Assert.NotEqual(undropped["dx"], sequential["dx"]);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void GemmRows_EqualsTheWholeProduct_Bitwise(string deviceName)
    {
        var device = TestDevices.Get(deviceName);
        var ops = device.Ops<float>();
        bool host = device.Info.Kind == DeviceKind.Cpu;
        // On cpu: 99 rows (the blocked kernel) and 45 rows (the few-rows kernel), in blocks of 9 and 27 rows.
        foreach (int m in host ? new[] { 99, 45 } : new[] { 12 })
        {
            int n = host ? 70 : 6, k = host ? 37 : 5;
            var rng = new Random(m);
            foreach (bool transB in new[] { true, false })
            {
                using var a = Tensor<float>.FromArray(device, BitwiseResults.Uniform(rng, m * k), m, k);
                int[] bShape = transB ? [n, k] : [k, n];
                using var bm = Tensor<float>.FromArray(device, BitwiseResults.Uniform(rng, n * k), bShape);
                using var whole = Tensor<float>.Zeros(device, m, n);
                using var parts = Tensor<float>.Zeros(device, m, n);
                ops.Gemm(GemmShape.Dense(m, n, k, false, transB), 1f, a.Data, bm.Data, 0f, whole.Data);
                int rowsPerBlock = host ? 9 : 4;
                for (int r0 = 0; r0 < m; r0 += rowsPerBlock * (r0 == 0 ? 1 : 3))
                {
                    int rows = Math.Min(rowsPerBlock * (r0 == 0 ? 1 : 3), m - r0);
                    ops.GemmRows(
                        GemmShape.Dense(rows, n, k, false, transB), m, 1f, a.Data.Slice((long)r0 * k, (long)rows * k), bm.Data, 0f,
                        parts.Data.Slice((long)r0 * n, (long)rows * n));
                }

                var expected = whole.ToArray();
                var actual = parts.ToArray();
                for (int e = 0; e < expected.Length; e++)
                {
                    if (BitConverter.SingleToInt32Bits(expected[e]) != BitConverter.SingleToInt32Bits(actual[e]))
                        Assert.Fail($"{deviceName}, M={m}, transB={transB}: C[{e / n}, {e % n}] is {actual[e]:R} by blocks of rows, {expected[e]:R} whole");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void GemmRows_ThrowsOnTransposedA_OrTooFewWholeRows(string deviceName)
    {
        var device = TestDevices.Get(deviceName);
        var ops = device.Ops<float>();
        using var a = Tensor<float>.Zeros(device, 4, 4);
        using var c = Tensor<float>.Zeros(device, 4, 4);
        var e = Assert.Throws<LstmException>(() => ops.GemmRows(GemmShape.Dense(4, 4, 4, true, false), 8, 1f, a.Data, a.Data, 0f, c.Data));
        Assert.Contains("op(A) must be A", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LstmException>(() => ops.GemmRows(GemmShape.Dense(4, 4, 4, false, false), 3, 1f, a.Data, a.Data, 0f, c.Data));
        Assert.Contains("the whole product has 3 rows", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void Wavefront_EqualsLayerAfterLayer_Bitwise_Float64(string deviceName)
    {
        var device = TestDevices.Get(deviceName);
        bool host = device.Info.Kind == DeviceKind.Cpu;
        int i = host ? 21 : 3, h = host ? 40 : 4, b = host ? 7 : 3, s = host ? 13 : 5, p = host ? 17 : 2;
        const int L = 3;
        int[] lengths = host ? [13, 2, 0, 9, 13, 5, 1] : [5, 0, 2];
        var rng = new Random(31);
        double[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1)];
        var x = Draw(s * b * i);
        var dy = Draw(s * b * p);
        var dhn = Draw(L * b * p);
        var dcn = Draw(L * b * h);

        Dictionary<string, double[]> Run(bool wavefront)
        {
            using var lstm = new LSTM<double>(device, new LSTMOptions(i, h, L, Dropout: 0.25, ProjSize: p), seed: 9) { DropoutSeed = 77 };
            lstm.Wavefront = wavefront;
            lstm.WavefrontBlock = 3;
            using var tx = Tensor<double>.FromArray(device, x, s, b, i);
            using var tdy = Tensor<double>.FromArray(device, dy, s, b, p);
            using var tdh = Tensor<double>.FromArray(device, dhn, L, b, p);
            using var tdc = Tensor<double>.FromArray(device, dcn, L, b, h);
            using var r = lstm.Forward(tx, training: true, lengths: lengths);
            using var g = lstm.Backward(r, tdy, tdh, tdc);
            var all = new Dictionary<string, double[]>
            {
                ["output"] = r.Output.ToArray(), ["h_n"] = r.HN.ToArray(), ["c_n"] = r.CN.ToArray(),
                ["dx"] = g.DX.ToArray(), ["dh0"] = g.DH0.ToArray(), ["dc0"] = g.DC0.ToArray(),
            };
            foreach (var param in lstm.Parameters())
                all["grad." + param.Name] = param.Grad.ToArray();
            return all;
        }

        BitwiseResults.AssertEqual(Run(false), Run(true), $"float64 on {deviceName}", "wavefront", "layer after layer");
    }

    [Fact]
    public void Wavefront_IsOnForIlgpuDevices_OffOnCpu()
    {
        foreach (var name in TestDevices.Names().Select(n => (string)n[0]))
        {
            var device = TestDevices.Get(name);
            using var lstm = new LSTM<float>(device, new LSTMOptions(2, 3, 2), seed: 1);
            Assert.Equal(device.IsIlgpu, lstm.Wavefront);
            lstm.Wavefront = !device.IsIlgpu;
            Assert.Equal(!device.IsIlgpu, lstm.Wavefront);
        }
    }

    [Theory]
    [InlineData(2, new[] { 1, 1, 1, 1 })]
    [InlineData(3, new[] { 3, 3, 3, 2 })]
    [InlineData(4, new[] { 2, 5, 1 })]
    public void RunThreads_StartsEachBlockAfterTheStageBeforeFinishedIt(int stages, int[] blockLengths)
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<(int Stage, int Step, long Order)>();
        long order = 0;
        var tails = new long[stages];
        int steps = blockLengths.Sum();

        IEnumerable<bool> Stage(int j)
        {
            for (int s = 0; s < steps; s++)
            {
                log.Enqueue((j, s, Interlocked.Increment(ref order)));
                Thread.SpinWait(50 * (stages - j));
                yield return true;
            }

            tails[j] = Interlocked.Increment(ref order);
        }

        WavefrontRunner.RunThreads(stages, blockLengths, Stage);
        var at = log.ToDictionary(e => (e.Stage, e.Step), e => e.Order);
        Assert.Equal(stages * steps, at.Count);
        int first = 0;
        foreach (int length in blockLengths)
        {
            int last = first + length - 1;
            for (int j = 1; j < stages; j++)
                Assert.True(at[(j, first)] > at[(j - 1, last)], $"stage {j} began steps {first}…{last} before stage {j - 1} finished them");
            first += length;
        }

        for (int j = 0; j < stages; j++)
            Assert.True(tails[j] > at[(j, steps - 1)], $"stage {j}'s tail ran before its last step");
    }

    [Fact]
    public void RunThreads_ReportsAStageFailure_AndStopsTheStagesAfterIt()
    {
        int[] blockLengths = [2, 2, 2, 2];
        var stepsRun = new int[3];

        IEnumerable<bool> Stage(int j)
        {
            for (int s = 0; s < 8; s++)
            {
                if (j == 1 && s == 3)
                    throw new LstmException("stage 1 failed at step 3");
                Interlocked.Increment(ref stepsRun[j]);
                yield return true;
            }
        }

        var e = Assert.Throws<LstmException>(() => WavefrontRunner.RunThreads(3, blockLengths, Stage));
        Assert.Equal("stage 1 failed at step 3", e.Message);
        Assert.Equal(8, stepsRun[0]);
        Assert.Equal(3, stepsRun[1]);
        // Stage 2 had stage 1's first block (steps 0 and 1) at most, and stopped instead of waiting.
        Assert.InRange(stepsRun[2], 0, 2);
    }

    [Fact]
    public void Issue_IssuesTheLaterStagesFirst_InRounds()
    {
        var device = TestDevices.Get(ComputeDevice.CpuName);
        var lanes = Enumerable.Range(0, 3).Select(device.Ops<float>).ToArray();
        var issued = new List<(int Stage, int Step)>();
        var tails = new List<int>();
        int[] blockLengths = [2, 1, 2];

        IEnumerable<bool> Stage(int j)
        {
            for (int s = 0; s < 5; s++)
            {
                issued.Add((j, s));
                yield return true;
            }

            tails.Add(j);
        }

        WavefrontRunner.Issue(3, blockLengths, lanes, Stage);
        // Round r issues stage j's block r − j, the highest stage first.
        (int, int)[] expected =
        [
            (0, 0), (0, 1),                             // round 0: stage 0 block 0
            (1, 0), (1, 1), (0, 2),                     // round 1: stage 1 block 0, stage 0 block 1
            (2, 0), (2, 1), (1, 2), (0, 3), (0, 4),     // round 2
            (2, 2), (1, 3), (1, 4),                     // round 3
            (2, 3), (2, 4),                             // round 4
        ];
        Assert.Equal(expected, issued);
        Assert.Equal([0, 1, 2], tails);
    }

    [Fact]
    public void WavefrontBlock_ThrowsOnNegative()
    {
        using var lstm = new LSTM<float>(TestDevices.Get(ComputeDevice.CpuName), new LSTMOptions(2, 3, 2), seed: 1);
        var e = Assert.Throws<LstmException>(() => lstm.WavefrontBlock = -1);
        Assert.Contains("wavefront block -1", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A stacked one-direction LSTM, GRU or RNN behind one shape.</summary>
    private sealed class Net : IDisposable
    {
        private readonly ComputeDevice _device;
        private readonly LSTM<float>? _lstm;
        private readonly GRU<float>? _gru;
        private readonly RNN<float>? _rnn;
        private readonly int _hidden;

        public Net(ComputeDevice device, string cell, int input, int hidden, int layers, int proj, bool batchFirst, double dropout)
        {
            _device = device;
            _hidden = hidden;
            switch (cell)
            {
                case "lstm":
                    _lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, layers, true, batchFirst, Dropout: dropout, false), seed: 5);
                    break;
                case "lstm-proj":
                    _lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, layers, true, batchFirst, Dropout: dropout, false, ProjSize: proj), seed: 5);
                    break;
                case "gru":
                    _gru = new GRU<float>(device, new GRUOptions(input, hidden, layers, true, batchFirst, dropout, false), seed: 5);
                    break;
                default:
                    _rnn = new RNN<float>(device, new RNNOptions(input, hidden, layers, RnnNonlinearity.Tanh, true, batchFirst, dropout, false), seed: 5);
                    break;
            }
        }

        private RecurrentLayer<float> Layer => (RecurrentLayer<float>?)_lstm ?? (RecurrentLayer<float>?)_gru ?? _rnn!;

        public void SetWavefront(bool on, int block)
        {
            Layer.Wavefront = on;
            Layer.WavefrontBlock = block;
        }

        /// <summary>Forward (training) and backward, then an inference forward; every result and gradient by name.</summary>
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
                using (var r = _lstm.Forward(tx, th, tc, training: true, lengths: lengths))
                using (var g = _lstm.Backward(r, tdy, tdh, tdc))
                {
                    BitwiseResults.AddLstm(all, r, g);
                }

                using var inference = _lstm.Forward(tx, th, tc, training: false, lengths: lengths);
                all["inference.output"] = inference.Output.ToArray();
                all["inference.h_n"] = inference.HN.ToArray();
                all["inference.c_n"] = inference.CN.ToArray();
            }
            else
            {
                using (var r = _gru is not null ? _gru.Forward(tx, th, training: true, lengths: lengths) : _rnn!.Forward(tx, th, training: true, lengths: lengths))
                using (var g = _gru is not null ? _gru.Backward(r, tdy, tdh) : _rnn!.Backward(r, tdy, tdh))
                {
                    all["output"] = r.Output.ToArray();
                    all["h_n"] = r.HN.ToArray();
                    all["dx"] = g.DX.ToArray();
                    all["dh0"] = g.DH0.ToArray();
                }

                using var inference = _gru is not null ? _gru.Forward(tx, th, training: false, lengths: lengths) : _rnn!.Forward(tx, th, training: false, lengths: lengths);
                all["inference.output"] = inference.Output.ToArray();
                all["inference.h_n"] = inference.HN.ToArray();
            }

            foreach (var p in Layer.Parameters())
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
