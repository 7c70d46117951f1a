using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Cpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The <c>cpu</c> device runs an LSTM direction's whole time loop as one operation
/// (<see cref="ILstmSequenceOps{T}"/>), the cores splitting the hidden units or the rows; it
/// gives, bit for bit, what one operation per step gives: output, h_n, c_n, dx, dh0, dc0 and every
/// parameter gradient, in inference and training, one and two directions, with and without bias,
/// at batch sizes and hidden sizes that split across cores (by hidden units, or by rows) or not,
/// and that are not multiples of the GEMM's panels (32 columns) or register rows (6). At BF16 the
/// loop of one or two rows multiplies by BF16 panels of W_hh and gives the per-step operations'
/// results (products of rounded copies) bit for bit too; wider batches step aside to them.
/// </summary>
public class LstmSequenceTests
{
    public static IEnumerable<object[]> Cases() =>
    [
        // B, H, I, T, layers, bidirectional, bias
        [1, 256, 19, 9, 1, false, true],    // batch 1, split across cores, panel-aligned shares
        [1, 512, 7, 4, 1, true, true],      // batch 1, H of two K blocks, split across cores, both directions
        [1, 37, 5, 7, 2, false, true],      // one core, a partial panel and a scalar tail
        [2, 300, 11, 5, 1, true, true],     // split, shares not on panel boundaries, both directions
        [7, 130, 13, 6, 2, false, false],   // two register-row panels, split, bias=False
        [3, 100, 8, 4, 1, true, false],     // one core, both directions, bias=False
        [5, 20, 10, 50, 2, false, true],    // the seed's shape
        [33, 50, 9, 5, 1, true, true],      // rows split across cores (16 and 17: partial register-row panels), both directions
        [40, 45, 6, 4, 2, false, false],    // rows split (20 each), a partial column panel, bias=False
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void WholeLoop_EqualsStepByStep_Bitwise_Float32(int batch, int hidden, int input, int steps, int layers, bool bidirectional, bool bias) =>
        AssertWholeLoopEqualsSteps(TestDevices.Get("cpu"), batch, hidden, input, steps, layers, bidirectional, bias);

    public static IEnumerable<object[]> Bf16Cases() =>
    [
        // B, H, I, T, layers, bidirectional, bias
        [1, 256, 19, 9, 1, false, true],   // batch 1, H of one K block, split across cores
        [1, 512, 7, 4, 1, true, true],     // batch 1, H of two K blocks, both directions
        [2, 300, 11, 5, 1, true, true],    // batch 2, two K blocks (the second partial), shares not on panel boundaries, both directions
        [2, 96, 8, 6, 1, false, false],    // batch 2, one K block, one core, bias=False
        [1, 37, 5, 7, 2, true, true],      // a partial gate panel and a scalar tail, two layers, both directions
        [3, 64, 6, 4, 1, true, true],      // three rows: the loop steps aside
    ];

    [Theory]
    [MemberData(nameof(Bf16Cases))]
    public void WholeLoop_EqualsStepByStep_Bitwise_Bf16(int batch, int hidden, int input, int steps, int layers, bool bidirectional, bool bias)
    {
        using var device = ComputeDevice.Open("cpu", GemmPrecision.Bf16);
        AssertWholeLoopEqualsSteps(device, batch, hidden, input, steps, layers, bidirectional, bias);
    }

    private static void AssertWholeLoopEqualsSteps(ComputeDevice device, int batch, int hidden, int input, int steps, int layers, bool bidirectional, bool bias)
    {
        var options = new LSTMOptions(input, hidden, layers, bias, BatchFirst: false, Bidirectional: bidirectional);
        int dirs = bidirectional ? 2 : 1;
        var rng = new Random(batch * 1000 + hidden);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var c0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hidden);
        var dhn = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dcn = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);

        Dictionary<string, float[]> Run(bool wholeLoops)
        {
            using var lstm = new LSTM<float>(device, options, seed: 3) { WholeLoops = wholeLoops };
            using var tx = Tensor<float>.FromArray(device, x, steps, batch, input);
            using var th = Tensor<float>.FromArray(device, h0, layers * dirs, batch, hidden);
            using var tc = Tensor<float>.FromArray(device, c0, layers * dirs, batch, hidden);
            using var tdy = Tensor<float>.FromArray(device, dy, steps, batch, dirs * hidden);
            using var tdh = Tensor<float>.FromArray(device, dhn, layers * dirs, batch, hidden);
            using var tdc = Tensor<float>.FromArray(device, dcn, layers * dirs, batch, hidden);
            var all = new Dictionary<string, float[]>();
            using (var inference = lstm.Forward(tx, th, tc, training: false))
            {
                all["inference.output"] = inference.Output.ToArray();
                all["inference.h_n"] = inference.HN.ToArray();
                all["inference.c_n"] = inference.CN.ToArray();
            }

            using var r = lstm.Forward(tx, th, tc, training: true);
            using var g = lstm.Backward(r, tdy, tdh, tdc);
            BitwiseResults.AddLstm(all, r, g);
            foreach (var p in lstm.Parameters())
                all["grad." + p.Name] = p.Grad.ToArray();
            return all;
        }

        var steps1 = Run(wholeLoops: false);
        var whole = Run(wholeLoops: true);
        BitwiseResults.AssertEqual(steps1, whole, $"LSTM B={batch} H={hidden} T={steps} L={layers} D={dirs} bias={bias} on cpu at {device.Precision}", "in one operation", "step by step");
    }

    [Fact]
    public void WholeLoop_EqualsStepByStep_Bitwise_Float64()
    {
        var device = TestDevices.Get("cpu");
        const int batch = 1, hidden = 300, input = 7, steps = 6;
        var options = new LSTMOptions(input, hidden, 1, true, BatchFirst: true, Bidirectional: true);
        var rng = new Random(11);
        double[] Uniform(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1)];
        var x = Uniform(batch * steps * input);
        var dy = Uniform(batch * steps * 2 * hidden);

        Dictionary<string, double[]> Run(bool wholeLoops)
        {
            using var lstm = new LSTM<double>(device, options, seed: 4) { WholeLoops = wholeLoops };
            using var tx = Tensor<double>.FromArray(device, x, batch, steps, input);
            using var tdy = Tensor<double>.FromArray(device, dy, batch, steps, 2 * hidden);
            using var r = lstm.Forward(tx, training: true);
            using var g = lstm.Backward(r, dOutput: tdy);
            var all = new Dictionary<string, double[]>
            {
                ["output"] = r.Output.ToArray(),
                ["c_n"] = r.CN.ToArray(),
                ["dx"] = g.DX.ToArray(),
            };
            foreach (var p in lstm.Parameters())
                all["grad." + p.Name] = p.Grad.ToArray();
            return all;
        }

        BitwiseResults.AssertEqual(Run(wholeLoops: false), Run(wholeLoops: true), "float64 LSTM on cpu", "in one operation", "step by step");
    }

    [Fact]
    public void SequenceOps_TakeNoProductTheFewRowPathDoesNotTake()
    {
        var ops = (ILstmSequenceOps<float>)TestDevices.Get("cpu").Ops<float>();
        var device = TestDevices.Get("cpu");
        // 97 rows: above the few-row path's 96, so the per-step product packs W_hh each time; the loop declines.
        const int batch = CpuOps<float>.FewRowsMax + 1, hidden = 8, steps = 2;
        using var buffers = new Buffers(device, batch, hidden, steps);
        var args = new LstmSequenceForward<float>(
            steps, batch, hidden, false, buffers.XProj.Data, buffers.Whh.Data, null, null, buffers.H0.Data, buffers.H0.Data,
            buffers.Out.Data, buffers.Cells.Data, true, null, buffers.HProj.Data);
        Assert.False(ops.TryLstmSequenceForward(args));
        Assert.All(buffers.Out.ToArray(), v => Assert.Equal(0f, v));
        var e = Assert.Throws<LstmException>(() => ops.TryLstmSequenceForward(args with { Batch = 3, Output = buffers.HProj.Data.Slice(0, 5) }));
        Assert.Contains("output [T, B, H]", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// At BF16 the loop runs where its product is over wide panels (one or two rows with AVX-512),
    /// forward and backward, and its values are BF16 products: not the float32 ones.
    /// </summary>
    [Fact]
    public void WholeLoop_AtBf16_RunsOverWidePanels_AndRounds()
    {
        using var bf16 = ComputeDevice.Open("cpu", GemmPrecision.Bf16);
        bool wide = Vector512.IsHardwareAccelerated;
        const int hidden = 64, steps = 3;
        foreach (int batch in new[] { 1, 2, 3 })
        {
            var (forward, backward, output) = RunOnce(bf16, batch, hidden, steps);
            Assert.Equal(wide && batch <= 2, forward);
            Assert.Equal(wide && batch <= 2, backward);
            if (forward)
                Assert.NotEqual(RunOnce(TestDevices.Get("cpu"), batch, hidden, steps).Output, output);
        }

        static (bool Forward, bool Backward, float[] Output) RunOnce(ComputeDevice device, int batch, int hidden, int steps)
        {
            var ops = (ILstmSequenceOps<float>)device.Ops<float>();
            var rng = new Random(batch);
            using var buffers = new Buffers(device, batch, hidden, steps);
            using var whh = Tensor<float>.FromArray(device, BitwiseResults.Uniform(rng, 4 * hidden * hidden), 4 * hidden, hidden);
            using var xproj = Tensor<float>.FromArray(device, BitwiseResults.Uniform(rng, steps * batch * 4 * hidden), steps, batch, 4 * hidden);
            using var h0 = Tensor<float>.FromArray(device, BitwiseResults.Uniform(rng, batch * hidden), batch, hidden);
            using var acts = Tensor<float>.Zeros(device, steps, batch, 4 * hidden);
            using var dh = Tensor<float>.Zeros(device, batch, hidden);
            using var dc = Tensor<float>.Zeros(device, batch, hidden);
            using var dgates = Tensor<float>.Zeros(device, steps, batch, 4 * hidden);
            bool forward = ops.TryLstmSequenceForward(new LstmSequenceForward<float>(
                steps, batch, hidden, false, xproj.Data, whh.Data, null, null, h0.Data, h0.Data,
                buffers.Out.Data, buffers.Cells.Data, true, acts.Data, buffers.HProj.Data));
            bool backward = ops.TryLstmSequenceBackward(new LstmSequenceBackward<float>(
                steps, batch, hidden, false, buffers.Out.Data, whh.Data, acts.Data, buffers.Cells.Data, h0.Data,
                dh.Data, dc.Data, dgates.Data));
            return (forward, backward, buffers.Out.ToArray());
        }
    }

    /// <summary>The loop's vector rounding of op(A) to BF16 is <see cref="ReducedPrecision.ToBf16"/> on every kind of value.</summary>
    [Fact]
    public void Bf16Rounding_OfTheLoop_EqualsTheReference()
    {
        uint[] special =
        [
            0x0000_0000, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFF80_8000, 0x7FBF_FFFF,
            0x7F7F_FFFF, 0x7F7F_7FFF, 0x7F7F_8000, 0x0000_0001, 0x0000_8000, 0x0001_8000, 0x3F80_8000, 0x3F81_8000,
            0x3F80_7FFF, 0x3F80_8001, 0xBF80_8000, 0x0080_0000,
        ];
        var rng = new Random(17);
        var bits = special.Concat(Enumerable.Range(0, 203).Select(_ => (uint)rng.NextInt64(0, 1L << 32))).ToArray();
        var values = bits.Select(BitConverter.UInt32BitsToSingle).ToArray();
        var rounded = new float[values.Length];
        CpuOps<float>.RoundBf16(ref values[0], ref rounded[0], values.Length);
        for (int i = 0; i < values.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(ReducedPrecision.ToBf16(values[i])) == BitConverter.SingleToUInt32Bits(rounded[i]), $"0x{bits[i]:X8}");
    }

    [Theory]
    [InlineData(GemmPrecision.Fp32)]
    [InlineData(GemmPrecision.Bf16)]
    public void WholeLoop_AllocatesNothingOnceWarm(GemmPrecision precision)
    {
        using var opened = precision == GemmPrecision.Fp32 ? null : ComputeDevice.Open("cpu", precision);
        var device = opened ?? TestDevices.Get("cpu");
        var ops = (ILstmSequenceOps<float>)device.Ops<float>();
        // Batch 1, H = 256: split across the cores when there are two.
        const int batch = 1, hidden = 256, steps = 3;
        using var buffers = new Buffers(device, batch, hidden, steps);
        using var acts = Tensor<float>.Zeros(device, steps, batch, 4 * hidden);
        using var dh = Tensor<float>.Zeros(device, batch, hidden);
        using var dc = Tensor<float>.Zeros(device, batch, hidden);
        var forward = new LstmSequenceForward<float>(
            steps, batch, hidden, false, buffers.XProj.Data, buffers.Whh.Data, null, null, buffers.H0.Data, buffers.H0.Data,
            buffers.Out.Data, buffers.Cells.Data, true, acts.Data, buffers.HProj.Data);
        var backward = new LstmSequenceBackward<float>(
            steps, batch, hidden, true, buffers.Out.Data, buffers.Whh.Data, acts.Data, buffers.Cells.Data, buffers.H0.Data,
            dh.Data, dc.Data, buffers.XProj.Data);
        void Pass()
        {
            Assert.True(ops.TryLstmSequenceForward(forward));
            Assert.True(ops.TryLstmSequenceBackward(backward));
        }

        // Warm: scratch sized, W_hh cached, past tiered compilation's call counting.
        for (int i = 0; i < 40; i++)
            Pass();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            Pass();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class Buffers(Lstm.Runtime.Devices.ComputeDevice device, int batch, int hidden, int steps) : IDisposable
    {
        public Tensor<float> XProj { get; } = Tensor<float>.Zeros(device, steps, batch, 4 * hidden);
        public Tensor<float> Whh { get; } = Tensor<float>.Zeros(device, 4 * hidden, hidden);
        public Tensor<float> H0 { get; } = Tensor<float>.Zeros(device, batch, hidden);
        public Tensor<float> Out { get; } = Tensor<float>.Zeros(device, steps, batch, hidden);
        public Tensor<float> Cells { get; } = Tensor<float>.Zeros(device, steps, batch, hidden);
        public Tensor<float> HProj { get; } = Tensor<float>.Zeros(device, batch, 4 * hidden);

        public void Dispose()
        {
            XProj.Dispose();
            Whh.Dispose();
            H0.Dispose();
            Out.Dispose();
            Cells.Dispose();
            HProj.Dispose();
        }
    }
}
