using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Lstm.Kernels.Cells;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// The persistent GRU and RNN (tanh, relu) backward kernels on ILGPU's CPU accelerator, with as many
/// multiprocessors as groups (so every group is resident), against float64 loops of
/// <see cref="GruCellReference.Backward"/> and <see cref="RnnCellReference.Backward"/> with
/// dh_{t-1} (+)= dgatesH_t · W_hh, with every row at full length and with variable lengths (rows past
/// their length untouched); and the grid barrier's time-out, forced by a lost group.
/// </summary>
public sealed class PersistentGruRnnBackwardKernelTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 4;
    private readonly Context _context = Context.Create(b => b.CPU().Math(MathMode.Default));

    public void Dispose() => _context.Dispose();

    public static IEnumerable<object[]> Cases()
    {
        foreach (var cell in new[] { "gru", "tanh", "relu" })
        {
            foreach (var dtype in new[] { "float32", "float64" })
            {
                foreach (var (batch, hidden, units) in new[] { (1, 5, 2), (3, 5, 4), (3, 37, 10), (2, 37, 8) })
                {
                    foreach (bool reverse in new[] { false, true })
                    {
                        foreach (bool ragged in new[] { false, true })
                            yield return [cell, dtype, batch, hidden, units, reverse, ragged];
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesFloat64Reference(string cell, string dtype, int batch, int hidden, int units, bool reverse, bool ragged)
    {
        double error = dtype == "float32"
            ? Run<float, F32Ops>(cell, batch, hidden, units, reverse, ragged, out bool failed)
            : Run<double, F64Ops>(cell, batch, hidden, units, reverse, ragged, out failed);
        output.WriteLine($"{cell} {dtype} B={batch} H={hidden} U={units} reverse={reverse} ragged={ragged}: max error {error:E2}");
        Assert.False(failed);
        Assert.True(error < (dtype == "float32" ? 2e-6 : 1e-13), $"max error {error}");
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("relu")]
    public void LostGroup_TimesOutAndFlagsFailure(string cell)
    {
        var watch = Stopwatch.StartNew();
        Run<float, F32Ops>(cell, 2, 12, 4, false, true, out bool failed, skipGroup: 1, spinLimit: 1 << 16);
        Assert.True(failed);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    private double Run<T, TOps>(
        string cell, int batch, int hidden, int units, bool reverse, bool ragged, out bool failed, int skipGroup = -1, int spinLimit = 1 << 28)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var active = PersistentGruRnnKernelTests.Active(Steps, batch, ragged);
        bool gru = cell == "gru";
        int g = (gru ? 3 : 1) * hidden, bh = batch * hidden;
        int groups = (hidden + units - 1) / units;
        var rng = new Random(hidden * 10 + batch + (gru ? 3 : cell == "relu" ? 2 : 1));
        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, Steps * bh));
        var whh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g * hidden, 1 / Math.Sqrt(hidden)));
        var acts = DeviceData.AsSeen<T>(GruActivations(rng, Steps * batch, hidden));
        // h_t as a forward would leave it: in (-1, 1) for tanh and the GRU, ≥ 0 with zeros for ReLU.
        var outs = DeviceData.AsSeen<T>(Numerics.Uniform(rng, Steps * bh).Select(v => cell == "relu" ? Math.Max(0, 2 * v) : v).ToArray());
        var h0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhn = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));

        // 4 lanes × 2 warps: groups of 8 threads, one multiprocessor per group.
        const int threads = 8;
        using var accelerator = new CPUDevice(4, 2, groups).CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel);
        using var ddy = accelerator.Allocate1D(DeviceData.Convert<T>(dy));
        using var dw = accelerator.Allocate1D(DeviceData.Convert<T>(whh));
        using var dacts = accelerator.Allocate1D(DeviceData.Convert<T>(acts));
        using var dout = accelerator.Allocate1D(DeviceData.Convert<T>(outs));
        using var dh0 = accelerator.Allocate1D(DeviceData.Convert<T>(h0));
        using var ddh = accelerator.Allocate1D(DeviceData.Convert<T>(dhn));
        using var ddgx = accelerator.Allocate1D<T>(Steps * batch * g);
        using var ddgh = accelerator.Allocate1D<T>(Steps * batch * g);
        // Rows past their length are not written: their gate gradients stay as they were, zero.
        ddgx.MemSetToZero();
        ddgh.MemSetToZero();
        using var dactive = accelerator.Allocate1D(active);
        using var sync = accelerator.Allocate1D<int>(PersistentLstmKernels.SyncLength);
        sync.MemSetToZero();
        var shape = new PersistentCellShape(Steps, batch, hidden, units, reverse ? 1 : 0, 1, 0, cell == "relu" ? 1 : 0, spinLimit, skipGroup);
        if (gru)
        {
            var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentGruBackwardKernels.Backward<T, TOps>);
            var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentGruBackwardKernels.SharedElements(hidden, units)));
            kernel(accelerator.DefaultStream, config, ddy.View, dw.View, dacts.View, dout.View, dh0.View, ddh.View, ddgx.View, ddgh.View, dactive.View, sync.View, shape);
        }
        else
        {
            var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentRnnBackwardKernels.Backward<T, TOps>);
            var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentRnnBackwardKernels.SharedElements(hidden, units)));
            kernel(accelerator.DefaultStream, config, ddy.View, dw.View, dout.View, ddh.View, ddgx.View, dactive.View, sync.View, shape);
        }

        accelerator.Synchronize();
        failed = sync.GetAsArray1D()[PersistentLstmKernels.SyncFailed] != 0;
        if (failed)
            return double.NaN;

        var (dgxRef, dghRef, dhRef) = Reference(cell, batch, hidden, reverse, active, dy, whh, acts, outs, h0, dhn);
        double error = Math.Max(
            Numerics.MaxAbsError(Widen(ddgx.GetAsArray1D()), dgxRef),
            Numerics.MaxAbsError(Widen(ddh.GetAsArray1D()), dhRef));
        return gru ? Math.Max(error, Numerics.MaxAbsError(Widen(ddgh.GetAsArray1D()), dghRef)) : error;
    }

    /// <summary>[rows, 4H] r, z, n, hn as a GRU forward stores them: r, z in (0, 1), n in (-1, 1), hn any.</summary>
    private static double[] GruActivations(Random rng, int rows, int hidden)
    {
        var a = new double[rows * 4 * hidden];
        for (int r = 0; r < rows; r++)
        {
            for (int q = 0; q < 4 * hidden; q++)
                a[r * 4 * hidden + q] = (q / hidden) switch { 2 => 2 * rng.NextDouble() - 1, 3 => 3 * rng.NextDouble() - 1.5, _ => rng.NextDouble() };
        }

        return a;
    }

    private static double[] Widen<T>(T[] v) where T : unmanaged =>
        v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    /// <summary>
    /// The float64 loop from the last step walked to the first: the cell backward, then dh_{t-1} (+)= dgatesH · W_hh,
    /// on each step's first n_t rows (h_{t-1} is h0 where a row began), the other rows' dh and gate gradients untouched.
    /// </summary>
    private static (double[] DGatesX, double[] DGatesH, double[] Dh) Reference(
        string cell, int batch, int hidden, bool reverse, int[] active, double[] dy, double[] whh, double[] acts, double[] outs, double[] h0, double[] dhn)
    {
        bool gru = cell == "gru";
        int g = (gru ? 3 : 1) * hidden, bh = batch * hidden;
        var dgatesX = new double[Steps * batch * g];
        var dgatesH = new double[Steps * batch * g];
        var dhRec = (double[])dhn.Clone();
        for (int fs = Steps - 1; fs >= 0; fs--)
        {
            int t = reverse ? Steps - 1 - fs : fs;
            int tPrev = reverse ? t + 1 : t - 1;
            int n = active[t], carried = fs == 0 ? 0 : active[tPrev];
            var dh = new double[bh];
            for (int e = 0; e < bh; e++)
                dh[e] = dy[t * bh + e] + dhRec[e];
            var dgx = new double[batch * g];
            var dgh = gru ? new double[batch * g] : dgx;
            var direct = new double[bh];
            if (gru)
            {
                var hPrev = (double[])h0.Clone();
                if (carried > 0)
                    Array.Copy(outs, tPrev * bh, hPrev, 0, carried * hidden);
                GruCellReference.Backward(batch, hidden, dh, acts.AsSpan(t * batch * 4 * hidden, batch * 4 * hidden), hPrev, dgx, dgh, direct);
            }
            else
            {
                RnnCellReference.Backward(batch, hidden, cell == "relu", dh, outs.AsSpan(t * bh, bh), dgx);
            }

            Array.Copy(dgx, 0, dgatesX, t * batch * g, n * g);
            Array.Copy(dgh, 0, dgatesH, t * batch * g, n * g);
            for (int b = 0; b < n; b++)
            {
                for (int j = 0; j < hidden; j++)
                {
                    double sum = direct[b * hidden + j];
                    for (int r = 0; r < g; r++)
                        sum += dgh[b * g + r] * whh[r * hidden + j];
                    dhRec[b * hidden + j] = sum;
                }
            }
        }

        return (dgatesX, dgatesH, dhRec);
    }
}
