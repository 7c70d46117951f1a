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
/// The persistent GRU and RNN (tanh, relu) forward kernels on ILGPU's CPU accelerator, with as many
/// multiprocessors as groups (so every group is resident), against float64 loops of
/// <see cref="GruCellReference"/> and <see cref="RnnCellReference"/>, with every row at full length
/// and with variable lengths (rows sorted by length, one of length 0 at B = 3); and the barrier's time-out.
/// </summary>
public sealed class PersistentGruRnnKernelTests(ITestOutputHelper output) : IDisposable
{
    private readonly Context _context = Context.Create(b => b.CPU().Math(MathMode.Default));

    public void Dispose() => _context.Dispose();

    public static IEnumerable<object[]> Cases()
    {
        foreach (var cell in new[] { "gru", "tanh", "relu" })
        {
            foreach (var dtype in new[] { "float32", "float64" })
            {
                foreach (var (batch, hidden, units) in new[] { (1, 5, 2), (3, 37, 10), (2, 37, 8) })
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
    public void Forward_MatchesFloat64Reference(string cell, string dtype, int batch, int hidden, int units, bool reverse, bool ragged)
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
    [InlineData("tanh")]
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
        const int steps = 4;
        var active = Active(steps, batch, ragged);
        bool gru = cell == "gru";
        int gates = gru ? 3 : 1;
        int groups = (hidden + units - 1) / units;
        var rng = new Random(hidden * 10 + batch);
        int g = gates * hidden, bh = batch * hidden;
        var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, steps * batch * g, 2));
        var whh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g * hidden, 1 / Math.Sqrt(hidden)));
        var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g, 0.5));
        var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g, 0.5));
        var h0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));

        // 3 lanes × 2 warps: groups of 6 threads (a multiple of 3 for the GRU), a multiprocessor per group.
        const int threads = 6;
        using var accelerator = new CPUDevice(3, 2, groups).CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel);
        using var dx = accelerator.Allocate1D(DeviceData.Convert<T>(xproj));
        using var dw = accelerator.Allocate1D(DeviceData.Convert<T>(whh));
        using var dbi = accelerator.Allocate1D(DeviceData.Convert<T>(bih));
        using var dbh = accelerator.Allocate1D(DeviceData.Convert<T>(bhh));
        using var dh0 = accelerator.Allocate1D(DeviceData.Convert<T>(h0));
        using var dout = accelerator.Allocate1D<T>(steps * bh);
        using var dacts = accelerator.Allocate1D<T>(steps * bh * 4);
        // Rows past their length are not written: their outputs stay as they were, zero.
        dout.MemSetToZero();
        dacts.MemSetToZero();
        using var dactive = accelerator.Allocate1D(active);
        using var sync = accelerator.Allocate1D<int>(PersistentLstmKernels.SyncLength);
        sync.MemSetToZero();
        var shape = new PersistentCellShape(steps, batch, hidden, units, reverse ? 1 : 0, 1, 1, cell == "relu" ? 1 : 0, spinLimit, skipGroup);
        if (gru)
        {
            var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentGruKernels.Forward<T, TOps>);
            var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentGruKernels.SharedElements(hidden, units, threads)));
            kernel(accelerator.DefaultStream, config, dx.View, dw.View, dbi.View, dbh.View, dh0.View, dout.View, dacts.View, dactive.View, sync.View, shape);
        }
        else
        {
            var kernel = accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentRnnKernels.Forward<T, TOps>);
            var config = new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<T>(PersistentRnnKernels.SharedElements(hidden, units)));
            kernel(accelerator.DefaultStream, config, dx.View, dw.View, dbi.View, dbh.View, dh0.View, dout.View, dactive.View, sync.View, shape);
        }

        accelerator.Synchronize();
        failed = sync.GetAsArray1D()[PersistentLstmKernels.SyncFailed] != 0;
        if (failed)
            return double.NaN;

        var (outRef, actsRef) = Reference(cell, steps, batch, hidden, reverse, active, xproj, whh, bih, bhh, h0);
        double error = Numerics.MaxAbsError(Widen(dout.GetAsArray1D()), outRef);
        return gru ? Math.Max(error, Numerics.MaxAbsError(Widen(dacts.GetAsArray1D()), actsRef)) : error;
    }

    private static double[] Widen<T>(T[] v) where T : unmanaged =>
        v.Select(x => x switch { float f => f, double d => d, _ => double.NaN }).ToArray();

    /// <summary>
    /// n_t of each step: B, or with <paramref name="ragged"/> the counts of rows of lengths
    /// (B = 1) [2], (B = 2) [3, 1], (B = 3) [T, 2, 0].
    /// </summary>
    internal static int[] Active(int steps, int batch, bool ragged)
    {
        int[] lengths = !ragged ? Enumerable.Repeat(steps, batch).ToArray() : batch switch { 1 => [2], 2 => [3, 1], _ => [steps, 2, 0] };
        return Enumerable.Range(0, steps).Select(t => lengths.Count(l => l > t)).ToArray();
    }

    /// <summary>
    /// The float64 loop: hproj = h_{t-1} W_hhᵀ, then the reference cell, on each step's first n_t rows;
    /// a row's h_{t-1} is h0 at the step it begins (forward t = 0, reverse its last step).
    /// </summary>
    private static (double[] Out, double[] Acts) Reference(
        string cell, int steps, int batch, int hidden, bool reverse, int[] active, double[] xproj, double[] whh, double[] bih, double[] bhh, double[] h0)
    {
        int g = (cell == "gru" ? 3 : 1) * hidden, bh = batch * hidden;
        var outs = new double[steps * bh];
        var acts = new double[steps * bh * 4];
        for (int s = 0; s < steps; s++)
        {
            int t = reverse ? steps - 1 - s : s;
            int tPrev = reverse ? t + 1 : t - 1;
            int n = active[t], carried = s == 0 ? 0 : active[tPrev];
            var hPrev = (double[])h0.Clone();
            Array.Copy(outs, tPrev < 0 || tPrev >= steps ? 0 : tPrev * bh, hPrev, 0, carried * hidden);
            var hproj = new double[batch * g];
            for (int b = 0; b < batch; b++)
            {
                for (int q = 0; q < g; q++)
                {
                    double sum = 0;
                    for (int k = 0; k < hidden; k++)
                        sum += hPrev[b * hidden + k] * whh[q * hidden + k];
                    hproj[b * g + q] = sum;
                }
            }

            var h = new double[bh];
            var a = new double[bh * 4];
            var x = xproj.AsSpan(t * batch * g, batch * g);
            if (cell == "gru")
                GruCellReference.Forward(batch, hidden, x, hproj, bih, bhh, hPrev, h, a);
            else
                RnnCellReference.Forward(batch, hidden, cell == "relu", x, hproj, bih, bhh, h);
            // Rows past their length write nothing.
            Array.Copy(h, 0, outs, t * bh, n * hidden);
            Array.Copy(a, 0, acts, t * bh * 4, n * hidden * 4);
        }

        return (outs, acts);
    }
}
