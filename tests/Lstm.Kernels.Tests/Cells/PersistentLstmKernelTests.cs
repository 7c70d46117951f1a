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
/// The persistent LSTM forward kernel on ILGPU's CPU accelerator, with as many multiprocessors as
/// groups (so every group is resident), against a float64 loop of <see cref="LstmCellReference"/>;
/// and its grid barrier's time-out, forced by a lost group and by more groups than can be resident.
/// </summary>
public sealed class PersistentLstmKernelTests(ITestOutputHelper output) : IDisposable
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
    public void Forward_MatchesFloat64Reference(string dtype, int batch, int hidden, int units, bool reverse)
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

    [Fact]
    public void MoreGroupsThanMultiprocessors_TimesOutAndFlagsFailure()
    {
        // 3 groups on 2 multiprocessors: the third runs only after the first two leave.
        var watch = Stopwatch.StartNew();
        Run<float, F32Ops>(1, 12, 4, false, out bool failed, multiprocessors: 2, spinLimit: 1 << 16);
        Assert.True(failed);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    private double Run<T, TOps>(
        int batch, int hidden, int units, bool reverse, out bool failed, int skipGroup = -1, int spinLimit = 1 << 28, int multiprocessors = 0)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        const int steps = 4;
        int groups = (hidden + units - 1) / units;
        var rng = new Random(hidden * 10 + batch);
        int g = 4 * hidden, bh = batch * hidden;
        var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, steps * batch * g, 2));
        var whh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g * hidden, 1 / Math.Sqrt(hidden)));
        var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g, 0.5));
        var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g, 0.5));
        var h0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var c0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));

        // 4 lanes × 2 warps: groups of 8 threads, one multiprocessor per group unless told fewer.
        using var accelerator = new CPUDevice(4, 2, multiprocessors > 0 ? multiprocessors : groups)
            .CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel);
        var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>(PersistentLstmKernels.Forward<T, TOps>);
        using var dx = accelerator.Allocate1D(DeviceData.Convert<T>(xproj));
        using var dw = accelerator.Allocate1D(DeviceData.Convert<T>(whh));
        using var dbi = accelerator.Allocate1D(DeviceData.Convert<T>(bih));
        using var dbh = accelerator.Allocate1D(DeviceData.Convert<T>(bhh));
        using var dh0 = accelerator.Allocate1D(DeviceData.Convert<T>(h0));
        using var dc0 = accelerator.Allocate1D(DeviceData.Convert<T>(c0));
        using var dout = accelerator.Allocate1D<T>(steps * bh);
        using var dcells = accelerator.Allocate1D<T>(steps * bh);
        using var dacts = accelerator.Allocate1D<T>(steps * batch * g);
        using var sync = accelerator.Allocate1D<int>(PersistentLstmKernels.SyncLength);
        sync.MemSetToZero();
        // Every row active at every step; no projection.
        using var active = accelerator.Allocate1D(Enumerable.Repeat(batch, steps).ToArray());
        const int threads = 8;
        var shape = new PersistentLstmShape(steps, batch, hidden, units, reverse ? 1 : 0, 1, 1, 1, spinLimit, skipGroup);
        var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentLstmKernels.SharedElements(hidden, units, threads)));
        kernel(accelerator.DefaultStream, config, dx.View, dw.View, ArrayView<T>.Empty, dbi.View, dbh.View, dh0.View, dc0.View,
            dout.View, dcells.View, ArrayView<T>.Empty, dacts.View, active.View, sync.View, shape);
        accelerator.Synchronize();
        failed = sync.GetAsArray1D()[PersistentLstmKernels.SyncFailed] != 0;
        if (failed)
            return double.NaN;

        var outGot = Widen(dout.GetAsArray1D());
        var cellsGot = Widen(dcells.GetAsArray1D());
        var actsGot = Widen(dacts.GetAsArray1D());
        var (outRef, cellsRef, actsRef) = Reference(steps, batch, hidden, reverse, xproj, whh, bih, bhh, h0, c0);
        return new[] { Numerics.MaxAbsError(outGot, outRef), Numerics.MaxAbsError(cellsGot, cellsRef), Numerics.MaxAbsError(actsGot, actsRef) }.Max();
    }

    private static double[] Widen<T>(T[] v) where T : unmanaged =>
        v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    /// <summary>The float64 loop: gates = xproj + h_{t-1} W_hhᵀ + b_ih + b_hh, then the cell.</summary>
    private static (double[] Out, double[] Cells, double[] Acts) Reference(
        int steps, int batch, int hidden, bool reverse, double[] xproj, double[] whh, double[] bih, double[] bhh, double[] h0, double[] c0)
    {
        int g = 4 * hidden, bh = batch * hidden;
        var outs = new double[steps * bh];
        var cells = new double[steps * bh];
        var acts = new double[steps * batch * g];
        var hPrev = h0;
        var cPrev = c0;
        for (int s = 0; s < steps; s++)
        {
            int t = reverse ? steps - 1 - s : s;
            var gates = new double[batch * g];
            for (int b = 0; b < batch; b++)
            {
                for (int q = 0; q < g; q++)
                {
                    double sum = xproj[(t * batch + b) * g + q] + bih[q] + bhh[q];
                    for (int k = 0; k < hidden; k++)
                        sum += hPrev[b * hidden + k] * whh[q * hidden + k];
                    gates[b * g + q] = sum;
                }
            }

            var c = new double[bh];
            var h = new double[bh];
            var a = new double[batch * g];
            LstmCellReference.Forward(batch, hidden, gates, cPrev, c, h, a);
            h.CopyTo(outs, t * bh);
            c.CopyTo(cells, t * bh);
            a.CopyTo(acts, t * batch * g);
            hPrev = h;
            cPrev = c;
        }

        return (outs, cells, acts);
    }
}
