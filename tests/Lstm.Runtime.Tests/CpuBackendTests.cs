using System.Numerics;
using Lstm.Kernels;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Cpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>The host backend's worker threads and its promise not to allocate in the time loop.</summary>
public class CpuBackendTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The chunks of an operation that meet (the whole-loop LSTM's step barrier) need every worker
    /// to claim its chunk even when it had gone to sleep between operations: thousands of two-chunk
    /// operations, each after an idle gap longer than the workers' spin, must each see both
    /// chunks running at once (a lost wake-up would leave chunk 0 waiting; here it gives up after
    /// a few seconds and the test fails instead of hanging).
    /// </summary>
    [Fact]
    public void CpuParallel_ChunksThatMeet_FindTheirWorkerAfterItSlept()
    {
        var meeting = new Meeting();
        int missed = 0, met = 0;
        for (int i = 0; i < 3000; i++)
        {
            // Longer than a worker's spin (about 30 µs) on most rounds, so it sleeps and must be woken.
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / (i % 3 == 0 ? 100_000 : 20_000);
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
                Thread.SpinWait(8);
            meeting.Arrived = 0;
            meeting.Missed = false;
            CpuParallel.For(2, 2, meeting, static (m, start, end) =>
            {
                if (end - start == 2)
                    return; // ran alone (another test holds the workers)
                Interlocked.Increment(ref m.Arrived);
                long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + 5 * System.Diagnostics.Stopwatch.Frequency;
                while (Volatile.Read(ref m.Arrived) < 2)
                {
                    if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                    {
                        m.Missed = true;
                        return;
                    }

                    Thread.SpinWait(4);
                }
            });
            if (meeting.Missed)
                missed++;
            else if (meeting.Arrived == 2)
                met++;
        }

        Assert.Equal(0, missed);
        if (CpuParallel.Cores > 1)
            Assert.True(met > 0, "no operation ran on two cores");
    }

    /// <summary>
    /// A forward pass takes its large scratch and its output uninitialized (the pooled arrays as
    /// an earlier pass left them): every element must be written before it is read. Poisoning the
    /// pool with NaN at exactly the lengths a pass rents (xproj [T, B, G], the layer's output
    /// [D, T, B, H], the result) must leave every result the same bit for bit.
    /// </summary>
    [Theory]
    [InlineData("lstm", false, false)]
    [InlineData("lstm", true, true)]
    [InlineData("lstm-steps", false, false)]
    [InlineData("gru", true, false)]
    [InlineData("rnn", false, true)]
    public void Forward_OverScratchLeftByEarlierPasses_IsUnchanged(string kind, bool bidirectional, bool batchFirst)
    {
        const int steps = 64, batch = 4, input = 8, hidden = 256;
        var device = TestDevices.Get("cpu");
        var ops = device.Ops<float>();
        int dirs = bidirectional ? 2 : 1;
        var x = BitwiseResults.Uniform(new Random(5), steps * batch * input);
        int[] shape = batchFirst ? [batch, steps, input] : [steps, batch, input];
        Dictionary<string, float[]> Run()
        {
            using var tx = Tensor<float>.FromArray(device, x, shape);
            if (kind.StartsWith("lstm", StringComparison.Ordinal))
            {
                using var lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, 1, true, batchFirst, Bidirectional: bidirectional), seed: 2) { WholeLoops = kind == "lstm" };
                using var r = lstm.Forward(tx);
                return new() { ["output"] = r.Output.ToArray(), ["h_n"] = r.HN.ToArray(), ["c_n"] = r.CN.ToArray() };
            }

            using RecurrentLayer<float> layer = kind == "gru"
                ? new GRU<float>(device, new GRUOptions(input, hidden, 1, true, batchFirst, Bidirectional: bidirectional), seed: 2)
                : new RNN<float>(device, new RNNOptions(input, hidden, 1, Bias: true, BatchFirst: batchFirst, Bidirectional: bidirectional), seed: 2);
            using var result = layer is GRU<float> gru ? gru.Forward(tx) : ((RNN<float>)layer).Forward(tx);
            return new() { ["output"] = result.Output.ToArray(), ["h_n"] = result.HN.ToArray() };
        }

        var clean = Run();
        long n = (long)steps * batch * hidden;
        var poisoned = new List<DeviceBuffer<float>>();
        foreach (long length in new[] { n, dirs * n, 3 * n, 4 * n })
        {
            for (int i = 0; i < CpuArrayPool<float>.MaxPerLength; i++)
            {
                var b = ops.Allocate(length);
                ops.Fill(b.All, float.NaN);
                poisoned.Add(b);
            }
        }

        foreach (var b in poisoned)
            b.Dispose();
        BitwiseResults.AssertEqual(clean, Run(), kind, "over poisoned scratch", "over fresh scratch");
    }

    /// <summary>
    /// A cpu buffer's first element lies on a 64-byte boundary, at every length (pooled or not,
    /// fresh or reused, float and double), and the buffer holds exactly its length: its last
    /// element is written and read back through a slice, and a slice one element longer is refused.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(1000)]
    [InlineData(100_003)]
    public unsafe void Buffers_BeginOnA64ByteBoundary(int length)
    {
        var device = TestDevices.Get("cpu");
        Check(device.Ops<float>());
        Check(device.Ops<double>());

        void Check<T>(IDeviceOps<T> ops) where T : unmanaged, INumber<T>
        {
            for (int round = 0; round < 3; round++)
            {
                using var b = ops.Allocate(length);
                var host = (CpuBuffer<T>)b;
                Assert.Equal(length, b.Length);
                var (array, offset) = CpuBuffer<T>.ArrayAt(b.All);
                long address = (long)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.CompilerServices.Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array), offset));
                Assert.Equal(0, address % 64);
                Assert.True(offset + length <= array.Length, $"{length} elements from {offset} in an array of {array.Length}");
                if (length > 0)
                {
                    CpuBuffer<T>.Span(b.Slice(length - 1, 1))[0] = T.CreateChecked(7);
                    Assert.Equal(T.CreateChecked(7), CpuBuffer<T>.ReadOnly(b.All)[length - 1]);
                }

                Assert.ThrowsAny<Exception>(() => b.Slice(0, length + 1));
            }
        }
    }

    /// <summary>
    /// Every buffer of a pass comes back to the pool when the pass disposes it, small ones too
    /// (pinned arrays allocated afresh count toward the full-collection budget): a buffer of 100
    /// elements reuses the array of the one disposed before it, and a forward pass of the seed's
    /// shape (B 5, T 50, I 10, H 20, 2 layers) allocates only its few small managed objects,
    /// nothing per time step.
    /// </summary>
    [Fact]
    public void SmallBuffers_ComeBackToThePool_APassAllocatesNothingPerStep()
    {
        var device = TestDevices.Get("cpu");
        var ops = device.Ops<float>();
        float[] first;
        using (var b = ops.Allocate(100))
            first = ((CpuBuffer<float>)b).Array;
        using (var again = ops.Allocate(100))
            Assert.Same(first, ((CpuBuffer<float>)again).Array);

        const int steps = 50, batch = 5, input = 10, hidden = 20, layers = 2;
        var x = BitwiseResults.Uniform(new Random(6), steps * batch * input);
        using var tx = Tensor<float>.FromArray(device, x, [steps, batch, input]);
        using var lstm = new LSTM<float>(device, new LSTMOptions(input, hidden, layers), seed: 3);
        for (int i = 0; i < 5; i++)
            lstm.Forward(tx).Dispose();
        const int passes = 20;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < passes; i++)
            lstm.Forward(tx).Dispose();
        long perPass = (GC.GetAllocatedBytesForCurrentThread() - before) / passes;
        output.WriteLine($"seed-shaped forward pass: {perPass} bytes allocated");
        // 100 layer steps: one allocation per step would already pass this bound; the pass's
        // buffers (its output alone is 20 KB) must come from the pool.
        Assert.True(perPass < 8 * 1024, $"a forward pass allocated {perPass} bytes");
    }

    /// <summary>
    /// A training step (forward, then backward) allocates no more over 64 steps than over 8: the
    /// LSTM's whole loop, its step-by-step loop and the GRU's, whose per-step work (and the
    /// weight gradients' walk over the steps) allocates nothing.
    /// </summary>
    [Theory]
    [InlineData("lstm")]
    [InlineData("lstm-steps")]
    [InlineData("gru")]
    public void TrainingStep_AllocatesNoMoreForMoreSteps(string kind)
    {
        var device = TestDevices.Get("cpu");
        const int batch = 2, input = 3, hidden = 5;
        long PerStep(int steps)
        {
            using var x = Tensor<float>.FromArray(device, BitwiseResults.Uniform(new Random(7), steps * batch * input), [batch, steps, input]);
            using var dy = Tensor<float>.FromArray(device, BitwiseResults.Uniform(new Random(8), steps * batch * hidden), [batch, steps, hidden]);
            using RecurrentLayer<float> layer = kind == "gru"
                ? new GRU<float>(device, new GRUOptions(input, hidden, 1, true, BatchFirst: true), seed: 4)
                : new LSTM<float>(device, new LSTMOptions(input, hidden, 1, true, BatchFirst: true), seed: 4) { WholeLoops = kind == "lstm" };
            void Step()
            {
                if (layer is LSTM<float> lstm)
                {
                    using var r = lstm.Forward(x, training: true);
                    lstm.Backward(r, dOutput: dy).Dispose();
                }
                else
                {
                    var gru = (GRU<float>)layer;
                    using var r = gru.Forward(x, training: true);
                    gru.Backward(r, dOutput: dy).Dispose();
                }
            }

            for (int i = 0; i < 30; i++)
                Step();
            const int passes = 10;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < passes; i++)
                Step();
            return (GC.GetAllocatedBytesForCurrentThread() - before) / passes;
        }

        long short8 = PerStep(8), long64 = PerStep(64);
        output.WriteLine($"{kind}: a training step allocates {short8} bytes at T 8, {long64} at T 64");
        // One 32-byte object a step would add 1.8 KB.
        Assert.True(long64 <= short8 + 256, $"{kind}: {short8} bytes at T 8 but {long64} at T 64");
    }

    /// <summary>
    /// A training pass reuses its state-sized buffers ([B, H]: h_n, c_n, dh0, dc0, the recurrent dh
    /// and dc …) from the cpu backend's pool: once warm, the managed bytes one pass allocates stay
    /// below the size of one such array, at batches where the pass holds many of them at once.
    /// </summary>
    [Theory]
    [InlineData("lstm", false)]
    [InlineData("lstm", true)]
    [InlineData("gru", true)]
    public void TrainingPass_AllocatesNoStateSizedArray(string kind, bool bidirectional)
    {
        var device = TestDevices.Get("cpu");
        const int batch = 32, steps = 6, input = 8, hidden = 128;
        int dirs = bidirectional ? 2 : 1;
        using var x = Tensor<float>.FromArray(device, BitwiseResults.Uniform(new Random(7), steps * batch * input), [batch, steps, input]);
        using var dy = Tensor<float>.FromArray(device, BitwiseResults.Uniform(new Random(8), steps * batch * dirs * hidden), [batch, steps, dirs * hidden]);
        using RecurrentLayer<float> layer = kind == "gru"
            ? new GRU<float>(device, new GRUOptions(input, hidden, 2, BatchFirst: true, Bidirectional: bidirectional), seed: 4)
            : new LSTM<float>(device, new LSTMOptions(input, hidden, 2, BatchFirst: true, Bidirectional: bidirectional), seed: 4);
        void Pass()
        {
            using var r = layer.Forward(x, training: true);
            layer.Backward(r, dOutput: dy).Dispose();
        }

        for (int i = 0; i < 5; i++)
            Pass();
        const int passes = 5;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < passes; i++)
            Pass();
        long perPass = (GC.GetAllocatedBytesForCurrentThread() - before) / passes;
        long stateBytes = (long)batch * hidden * sizeof(float);
        output.WriteLine($"{kind}, {dirs} direction(s): a training pass allocates {perPass} bytes; a state array is {stateBytes}");
        Assert.True(perPass < stateBytes, $"{kind}: a training pass allocates {perPass} bytes, at least one [B, H] array ({stateBytes})");
    }

    private sealed class Meeting
    {
        public int Arrived;
        public bool Missed;
    }

    [Fact]
    public void TimeStepOperations_AtTheSeedsShapes_AllocateNothing()
    {
        using var device = ComputeDevice.Open(ComputeDevice.CpuName);
        var ops = device.Ops<float>();
        const int batch = 5, hidden = 20, g = 4 * hidden;
        using var h = ops.Allocate(batch * hidden);
        using var w = ops.Allocate(g * hidden);
        using var xproj = ops.Allocate(batch * g);
        using var hproj = ops.Allocate(batch * g);
        using var bias = ops.Allocate(g);
        using var c = ops.Allocate(batch * hidden);
        using var acts = ops.Allocate(batch * g);
        using var dgates = ops.Allocate(batch * g);
        var recurrent = GemmShape.Dense(batch, g, hidden, false, true);
        var dh = GemmShape.Dense(batch, hidden, g, false, false);
        void Step()
        {
            ops.Gemm(recurrent, 1f, h.All, w.All, 0f, hproj.All);
            ops.LstmCellForward(batch, hidden, xproj.All, hproj.All, bias.All, bias.All, c.All, c.All, h.All, acts.All);
            ops.LstmCellBackward(batch, hidden, h.All, h.All, c.All, acts.All, c.All, c.All, dgates.All);
            ops.Gemm(dh, 1f, dgates.All, w.All, 0f, h.All);
            ops.SumRows(batch, g, dgates.All, 1f, bias.All);
            ops.Axpy(-0.01f, bias.All, bias.All);
        }

        // Two warm-up steps: the first sizes the GEMM's scratch, the second caches W's packed panels
        // (an operand is cached on its second use); from then on a step allocates nothing.
        Step();
        Step();
        // And past tiered compilation's call counting (30 calls), which can allocate once on the calling thread.
        for (int i = 0; i < 40; i++)
            Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>
    /// Every way a buffer's contents can change between two few-row GEMMs that read it as B: the
    /// second GEMM must see the new weights, not the panels packed from the old ones. Batch 1 and 2
    /// take the wide panels (op(A) read in place), batch 3 the register-width panels.
    /// </summary>
    public static IEnumerable<object[]> WeightChanges() =>
        from c in new[] { "upload", "upload-part", "copy", "fill", "axpy", "scale", "sgd", "adam", "gemm-into", "nothing" }
        from batch in new[] { 1, 2, 3 }
        select new object[] { c, batch };

    [Theory]
    [MemberData(nameof(WeightChanges))]
    public void FewRowGemm_AfterTheWeightsChange_UsesTheNewWeights(string change, int batch)
    {
        using var device = ComputeDevice.Open(ComputeDevice.CpuName);
        var ops = device.Ops<double>();
        var cache = ((CpuOps<double>)ops).PackedOperands;
        var rng = new Random(17);
        // h [B, H] · W_hhᵀ (W_hh [4H, H]) forward and dgates [B, 4H] · W_hh backward, H = 37.
        const int hidden = 37, g = 4 * hidden;
        var forward = GemmShape.Dense(batch, g, hidden, false, true);
        var backward = GemmShape.Dense(batch, hidden, g, false, false);
        var w = Numerics.Uniform(rng, g * hidden);
        var h = Numerics.Uniform(rng, batch * hidden);
        var dg = Numerics.Uniform(rng, batch * g);
        using var dw = ops.Allocate(w.Length);
        using var dh = ops.Allocate(h.Length);
        using var ddg = ops.Allocate(dg.Length);
        using var outF = ops.Allocate(batch * g);
        using var outB = ops.Allocate(batch * hidden);
        ops.Upload(w, dw.All);
        ops.Upload(h, dh.All);
        ops.Upload(dg, ddg.All);

        void CheckBoth(string when)
        {
            ops.Gemm(forward, 1.0, dh.All, dw.All, 0.0, outF.All);
            ops.Gemm(backward, 1.0, ddg.All, dw.All, 0.0, outB.All);
            var weights = new double[w.Length];
            ops.Download(dw.All, weights);
            var expectedF = new double[batch * g];
            var expectedB = new double[batch * hidden];
            GemmReference.Gemm(forward, 1.0, h, weights, 0.0, expectedF);
            GemmReference.Gemm(backward, 1.0, dg, weights, 0.0, expectedB);
            var actualF = new double[expectedF.Length];
            var actualB = new double[expectedB.Length];
            ops.Download(outF.All, actualF);
            ops.Download(outB.All, actualB);
            Assert.True(Numerics.MaxAbsError(actualF, expectedF) <= 1e-12, $"{change}, {when}: forward product off by {Numerics.MaxAbsError(actualF, expectedF):E2}");
            Assert.True(Numerics.MaxAbsError(actualB, expectedB) <= 1e-12, $"{change}, {when}: backward product off by {Numerics.MaxAbsError(actualB, expectedB):E2}");
        }

        long packs = cache.Packs;
        CheckBoth("first use");
        // Seen once: packed into scratch, not cached (activations are read once; weights again at once).
        Assert.Equal(packs, cache.Packs);
        CheckBoth("second use");
        Assert.Equal(packs + 2, cache.Packs);
        packs = cache.Packs;
        long hits = cache.Hits;
        CheckBoth("unchanged");
        Assert.Equal(packs, cache.Packs);
        Assert.Equal(hits + 2, cache.Hits);

        using var other = ops.Allocate(w.Length);
        ops.Upload(Numerics.Uniform(rng, w.Length), other.All);
        switch (change)
        {
            case "upload":
                ops.Upload(Numerics.Uniform(rng, w.Length), dw.All);
                break;
            case "upload-part":
                // One element far from the start: the buffer changes, the slice's start does not move.
                ops.Upload([42.0], dw.Slice(w.Length - 5, 1));
                break;
            case "copy":
                ops.Copy(other.All, dw.All);
                break;
            case "fill":
                ops.Fill(dw.Slice(10, 100), 0.5);
                break;
            case "axpy":
                ops.Axpy(-0.3, other.All, dw.All);
                break;
            case "scale":
                ops.Scale(2.5, dw.All);
                break;
            case "sgd":
                ops.SgdUpdate(dw.All, other.All, null, 0.1, 0.0, 0.0, 0.0, false, true);
                break;
            case "adam":
                using (var m = ops.Allocate(w.Length))
                using (var v = ops.Allocate(w.Length))
                    ops.AdamUpdate(dw.All, other.All, m.All, v.All, 0.01, 0.1, 0.999, 0.001, 1e-8, 0.0, 1.0, 0.0316);
                break;
            case "gemm-into":
                // The weights as C of another product.
                ops.Gemm(GemmShape.Dense(g, hidden, 7, false, false), 1.0, other.All, other.All, 0.5, dw.All);
                break;
        }

        CheckBoth("after " + change);
        if (change == "nothing")
            Assert.Equal(packs, cache.Packs);
        else
            Assert.Equal(packs + 2, cache.Packs);
    }

    [Fact]
    public void FewRowGemm_SlicesOfOneBuffer_AreCachedApart()
    {
        using var device = ComputeDevice.Open(ComputeDevice.CpuName);
        var ops = device.Ops<float>();
        var rng = new Random(5);
        // Two weight matrices [N, K] side by side in one buffer (as a flat parameter store would hold them).
        const int m = 2, n = 70, k = 33;
        var shape = GemmShape.Dense(m, n, k, false, true);
        var w = Numerics.Uniform(rng, 2 * n * k);
        var a = Numerics.Uniform(rng, m * k);
        using var dw = ops.Allocate(w.Length);
        using var da = ops.Allocate(a.Length);
        using var dc = ops.Allocate(m * n);
        ops.Upload(w.Select(x => (float)x).ToArray(), dw.All);
        ops.Upload(a.Select(x => (float)x).ToArray(), da.All);
        for (int rep = 0; rep < 2; rep++)
        {
            for (int half = 0; half < 2; half++)
            {
                ops.Gemm(shape, 1f, da.All, dw.Slice(half * n * k, n * k), 0f, dc.All);
                var expected = new double[m * n];
                GemmReference.Gemm(shape, 1.0, Numerics.RoundToFloat(a), Numerics.RoundToFloat(w).AsSpan(half * n * k, n * k), 0.0, expected);
                var actual = new float[m * n];
                ops.Download(dc.All, actual);
                Assert.True(Numerics.MaxAbsError(Numerics.Widen(actual), expected) <= 1e-5, $"half {half}, repeat {rep}");
            }
        }
    }

    [Fact]
    public void PackedOperandCache_IsBounded_AndServesEveryOperandCorrectly()
    {
        using var device = ComputeDevice.Open(ComputeDevice.CpuName);
        var ops = device.Ops<double>();
        var rng = new Random(8);
        // More distinct weights than the cache holds, each used twice in turn: evictions must never
        // hand one operand's panels to another.
        const int m = 4, n = 50, k = 20;
        var shape = GemmShape.Dense(m, n, k, false, false);
        int count = PackedOperandCache<double>.Capacity + 3;
        var weights = Enumerable.Range(0, count).Select(_ => Numerics.Uniform(rng, k * n)).ToArray();
        var buffers = weights.Select(w =>
        {
            var buffer = ops.Allocate(w.Length);
            ops.Upload(w, buffer.All);
            return buffer;
        }).ToArray();
        try
        {
            var a = Numerics.Uniform(rng, m * k);
            using var da = ops.Allocate(a.Length);
            using var dc = ops.Allocate(m * n);
            ops.Upload(a, da.All);
            var actual = new double[m * n];
            for (int rep = 0; rep < 3; rep++)
            {
                for (int i = 0; i < count; i++)
                {
                    ops.Gemm(shape, 1.0, da.All, buffers[i].All, 0.0, dc.All);
                    var expected = new double[m * n];
                    GemmReference.Gemm(shape, 1.0, a, weights[i], 0.0, expected);
                    ops.Download(dc.All, actual);
                    Assert.True(Numerics.MaxAbsError(actual, expected) <= 1e-12, $"weight {i}, repeat {rep}");
                }
            }
        }
        finally
        {
            foreach (var b in buffers)
                b.Dispose();
        }
    }
}
