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
/// The persistent LSTM backward kernel on ILGPU's CPU accelerator, with as many multiprocessors as
/// groups (so every group is resident), against a float64 loop of <see cref="LstmCellReference.Backward"/>
/// and dh_{t-1} = dgates_t · W_hh; and its grid barrier's time-out, forced by a lost group.
/// </summary>
public sealed class PersistentLstmBackwardKernelTests(ITestOutputHelper output) : IDisposable
{
    private readonly Context _context = Context.Create(b => b.CPU().Math(MathMode.Default));

    public void Dispose() => _context.Dispose();

    public static IEnumerable<object[]> Cases()
    {
        foreach (var dtype in new[] { "float32", "float64" })
        {
            foreach (var (batch, hidden, units) in new[] { (1, 5, 2), (3, 5, 4), (1, 37, 10), (3, 37, 8) })
            {
                foreach (bool reverse in new[] { false, true })
                    yield return [dtype, batch, hidden, units, reverse];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesFloat64Reference(string dtype, int batch, int hidden, int units, bool reverse)
    {
        double error = dtype == "float32"
            ? Run<float, F32Ops>(batch, hidden, units, reverse, out bool failed)
            : Run<double, F64Ops>(batch, hidden, units, reverse, out failed);
        output.WriteLine($"{dtype} B={batch} H={hidden} U={units} reverse={reverse}: max error {error:E2}");
        Assert.False(failed);
        Assert.True(error < (dtype == "float32" ? 2e-6 : 1e-13), $"max error {error}");
    }

    [Fact]
    public void LostGroup_TimesOutAndFlagsFailure()
    {
        var watch = Stopwatch.StartNew();
        Run<float, F32Ops>(2, 12, 4, false, out bool failed, skipGroup: 1, spinLimit: 1 << 16);
        Assert.True(failed);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    private double Run<T, TOps>(
        int batch, int hidden, int units, bool reverse, out bool failed, int skipGroup = -1, int spinLimit = 1 << 28)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        const int steps = 4;
        int groups = (hidden + units - 1) / units;
        var rng = new Random(hidden * 10 + batch + 7);
        int g = 4 * hidden, bh = batch * hidden;
        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, steps * bh));
        var whh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g * hidden, 1 / Math.Sqrt(hidden)));
        var acts = DeviceData.AsSeen<T>(Activations(rng, steps * batch, hidden));
        var cells = DeviceData.AsSeen<T>(Numerics.Uniform(rng, steps * bh, 1.5));
        var c0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhn = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dcn = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));

        // 4 lanes × 2 warps: groups of 8 threads, one multiprocessor per group.
        using var accelerator = new CPUDevice(4, 2, groups).CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel);
        var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>(PersistentLstmBackwardKernels.Backward<T, TOps>);
        using var ddy = accelerator.Allocate1D(DeviceData.Convert<T>(dy));
        using var dw = accelerator.Allocate1D(DeviceData.Convert<T>(whh));
        using var dacts = accelerator.Allocate1D(DeviceData.Convert<T>(acts));
        using var dcells = accelerator.Allocate1D(DeviceData.Convert<T>(cells));
        using var dc0 = accelerator.Allocate1D(DeviceData.Convert<T>(c0));
        using var ddh = accelerator.Allocate1D(DeviceData.Convert<T>(dhn));
        using var ddc = accelerator.Allocate1D(DeviceData.Convert<T>(dcn));
        using var ddg = accelerator.Allocate1D<T>(steps * batch * g);
        using var sync = accelerator.Allocate1D<int>(PersistentLstmKernels.SyncLength);
        sync.MemSetToZero();
        // Every row active at every step; no projection.
        using var active = accelerator.Allocate1D(Enumerable.Repeat(batch, steps).ToArray());
        const int threads = 8;
        var shape = new PersistentLstmShape(steps, batch, hidden, units, reverse ? 1 : 0, 1, 1, 0, spinLimit, skipGroup);
        var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentLstmBackwardKernels.SharedElements(hidden, units)));
        kernel(accelerator.DefaultStream, config, ddy.View, dw.View, ArrayView<T>.Empty, dacts.View, dcells.View, dc0.View, ddh.View, ddc.View, ddg.View,
            ArrayView<T>.Empty, ArrayView<T>.Empty, active.View, sync.View, shape);
        accelerator.Synchronize();
        failed = sync.GetAsArray1D()[PersistentLstmKernels.SyncFailed] != 0;
        if (failed)
            return double.NaN;

        var (dgRef, dhRef, dcRef) = Reference(steps, batch, hidden, reverse, dy, whh, acts, cells, c0, dhn, dcn);
        return new[]
        {
            Numerics.MaxAbsError(Widen(ddg.GetAsArray1D()), dgRef),
            Numerics.MaxAbsError(Widen(ddh.GetAsArray1D()), dhRef),
            Numerics.MaxAbsError(Widen(ddc.GetAsArray1D()), dcRef),
        }.Max();
    }

    /// <summary>[rows, 4H] i, f, o in (0, 1) and g in (-1, 1), as a forward would store them.</summary>
    private static double[] Activations(Random rng, int rows, int hidden)
    {
        var a = new double[rows * 4 * hidden];
        for (int r = 0; r < rows; r++)
        {
            for (int q = 0; q < 4 * hidden; q++)
                a[r * 4 * hidden + q] = q / hidden == 2 ? 2 * rng.NextDouble() - 1 : rng.NextDouble();
        }

        return a;
    }

    private static double[] Widen<T>(T[] v) where T : unmanaged =>
        v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    /// <summary>The float64 loop from the last step walked to the first: the cell backward, then dh = dgates · W_hh.</summary>
    private static (double[] DGates, double[] Dh, double[] Dc) Reference(
        int steps, int batch, int hidden, bool reverse, double[] dy, double[] whh, double[] acts, double[] cells, double[] c0,
        double[] dhn, double[] dcn)
    {
        int g = 4 * hidden, bh = batch * hidden;
        var dgates = new double[steps * batch * g];
        var dhRec = (double[])dhn.Clone();
        var dc = (double[])dcn.Clone();
        for (int fs = steps - 1; fs >= 0; fs--)
        {
            int t = reverse ? steps - 1 - fs : fs;
            int tPrev = reverse ? t + 1 : t - 1;
            var dh = new double[bh];
            for (int e = 0; e < bh; e++)
                dh[e] = dy[t * bh + e] + dhRec[e];
            var cPrev = fs == 0 ? c0 : cells.AsSpan(tPrev * bh, bh).ToArray();
            var dg = dgates.AsSpan(t * batch * g, batch * g);
            LstmCellReference.Backward(batch, hidden, dh, dc, acts.AsSpan(t * batch * g, batch * g), cells.AsSpan(t * bh, bh), cPrev, dg);
            for (int b = 0; b < batch; b++)
            {
                for (int j = 0; j < hidden; j++)
                {
                    double sum = 0;
                    for (int r = 0; r < g; r++)
                        sum += dg[b * g + r] * whh[r * hidden + j];
                    dhRec[b * hidden + j] = sum;
                }
            }
        }

        return (dgates, dhRec, dc);
    }
}
