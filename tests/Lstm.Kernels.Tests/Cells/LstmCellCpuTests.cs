using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// The <c>cpu</c> device's LSTM cell where the shared kernel tests do not reach: shapes large
/// enough to be split across cores (the split must not change a result) and odd hidden sizes that
/// leave a scalar tail in every row.
/// </summary>
public class LstmCellCpuTests(ITestOutputHelper output) : CpuCellTestBase
{
    public static IEnumerable<object[]> Types() => [["float32"], ["float64"]];

    [Theory]
    [MemberData(nameof(Types))]
    public void Lstm_LargeShapeSplitAcrossCores_MatchesFloat64Reference(string dtype)
    {
        if (dtype == "float32")
            Lstm<float>(67, 1001);
        else
            Lstm<double>(67, 1001);
    }

    private void Lstm<T>(int batch, int hidden) where T : unmanaged
    {
        var ops = Ops<T>();
        var rng = new Random(22);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        int g = 4 * hidden, bh = batch * hidden;
        var (xproj, hproj, bih, bhh, cPrev, c, h, acts) = LstmCellCase<T>(rng, batch, hidden);
        using var dx = DeviceData.Upload(ops, xproj);
        using var dhp = DeviceData.Upload(ops, hproj);
        using var dbi = DeviceData.Upload(ops, bih);
        using var dbh = DeviceData.Upload(ops, bhh);
        using var dcp = DeviceData.Upload(ops, cPrev);
        using var dc = ops.Allocate(bh);
        using var dh = ops.Allocate(bh);
        using var dActs = ops.Allocate(4 * bh);
        ops.LstmCellForward(batch, hidden, dx.All, dhp.All, dbi.All, dbh.All, dcp.All, dc.All, dh.All, dActs.All);
        double errC = Check(c, DeviceData.Download(ops, dc), tol, "c_t");
        double errH = Check(h, DeviceData.Download(ops, dh), tol, "h_t");
        double errA = Check(acts, DeviceData.Download(ops, dActs), tol, "acts");
        // The inference variant: the same c and h, nothing stored.
        using var dh2 = ops.Allocate(bh);
        ops.LstmCellForward(batch, hidden, dx.All, dhp.All, dbi.All, dbh.All, dcp.All, dcp.All, dh2.All, null);
        Check(c, DeviceData.Download(ops, dcp), tol, "c_t written over c_(t-1)");
        Check(h, DeviceData.Download(ops, dh2), tol, "h_t (inference)");

        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dcNext = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dcRef = (double[])dcNext.Clone();
        var dgRef = new double[batch * g];
        LstmCellReference.Backward(batch, hidden, dy.Zip(dhRec, (p, q) => p + q).ToArray(), dcRef, DeviceData.Download(ops, dActs), c, cPrev, dgRef);
        using var ddy = DeviceData.Upload(ops, dy);
        using var ddh = DeviceData.Upload(ops, dhRec);
        using var ddc = DeviceData.Upload(ops, dcNext);
        using var dcPrevAgain = DeviceData.Upload(ops, cPrev);
        using var ddg = ops.Allocate(batch * g);
        ops.LstmCellBackward(batch, hidden, ddy.All, ddh.All, ddc.All, dActs.All, dc.All, dcPrevAgain.All, ddg.All);
        double errG = Check(dgRef, DeviceData.Download(ops, ddg), tol, "dgates");
        double errD = Check(dcRef, DeviceData.Download(ops, ddc), tol, "dc_(t-1)");
        output.WriteLine($"{typeof(T).Name} LSTM B={batch} H={hidden}: max |error| c {errC:E2}, h {errH:E2}, acts {errA:E2}, dgates {errG:E2}, dc {errD:E2}");
    }

    /// <summary>
    /// Random LSTM cell inputs as <typeparamref name="T"/> holds them (xproj, hproj, both biases,
    /// c_(t-1)) and the float64 reference forward over them (c_t, h_t, the activations).
    /// </summary>
    private static (double[] Xproj, double[] Hproj, double[] Bih, double[] Bhh, double[] CPrev, double[] C, double[] H, double[] Acts) LstmCellCase<T>(Random rng, int batch, int hidden)
        where T : unmanaged
    {
        int g = 4 * hidden, bh = batch * hidden;
        var (xproj, hproj, bih, bhh, cPrev) = CellInputs<T>(rng, batch, g, bh);
        var gates = new double[batch * g];
        for (int b = 0; b < batch; b++)
        {
            for (int q = 0; q < g; q++)
                gates[b * g + q] = xproj[b * g + q] + hproj[b * g + q] + (bih[q] + bhh[q]);
        }

        var c = new double[bh];
        var h = new double[bh];
        var acts = new double[4 * bh];
        LstmCellReference.Forward(batch, hidden, gates, cPrev, c, h, acts);
        return (xproj, hproj, bih, bhh, cPrev, c, h, acts);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Lstm_EveryRowTailLength_MatchesFloat64ReferenceAndWritesOnlyItsRows(string dtype)
    {
        // H = 1..33 leaves every tail length of 16 and of 8 lanes (and none); the outputs are
        // slices between guard bands, so a write past a row's last unit would show.
        for (int hidden = 1; hidden <= 33; hidden++)
        {
            if (dtype == "float32")
                LstmTail<float>(3, hidden);
            else
                LstmTail<double>(3, hidden);
        }
    }

    private static void LstmTail<T>(int batch, int hidden) where T : unmanaged
    {
        const int Guard = 24;
        const double Sentinel = -12345;
        var ops = Ops<T>();
        var rng = new Random(100 + hidden);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        int g = 4 * hidden, bh = batch * hidden;
        var (xproj, hproj, bih, bhh, cPrev, c, h, acts) = LstmCellCase<T>(rng, batch, hidden);

        // One buffer per output, its slice [Guard, Guard + n) between sentinels.
        static double[] Guarded(int n) => Enumerable.Repeat(Sentinel, n + 2 * Guard).ToArray();
        static double[] Inner(double[] all, int n) => all.Skip(Guard).Take(n).ToArray();
        void CheckGuards(double[] all, int n, string what)
        {
            for (int i = 0; i < Guard; i++)
            {
                Assert.True(all[i] == Sentinel, $"H={hidden} {what}: element {i - Guard} before the output was written");
                Assert.True(all[Guard + n + i] == Sentinel, $"H={hidden} {what}: element {n + i} past the output was written");
            }
        }

        using var dx = DeviceData.Upload(ops, xproj);
        using var dhp = DeviceData.Upload(ops, hproj);
        using var dbi = DeviceData.Upload(ops, bih);
        using var dbh = DeviceData.Upload(ops, bhh);
        using var dcp = DeviceData.Upload(ops, cPrev);
        using var dc = DeviceData.Upload(ops, Guarded(bh));
        using var dh = DeviceData.Upload(ops, Guarded(bh));
        using var dActs = DeviceData.Upload(ops, Guarded(4 * bh));
        ops.LstmCellForward(batch, hidden, dx.All, dhp.All, dbi.All, dbh.All, dcp.All, dc.Slice(Guard, bh), dh.Slice(Guard, bh), dActs.Slice(Guard, 4 * bh));
        var cAll = DeviceData.Download(ops, dc);
        var hAll = DeviceData.Download(ops, dh);
        var aAll = DeviceData.Download(ops, dActs);
        Check(c, Inner(cAll, bh), tol, $"H={hidden} c_t");
        Check(h, Inner(hAll, bh), tol, $"H={hidden} h_t");
        Check(acts, Inner(aAll, 4 * bh), tol, $"H={hidden} acts");
        CheckGuards(cAll, bh, "c_t");
        CheckGuards(hAll, bh, "h_t");
        CheckGuards(aAll, 4 * bh, "acts");

        // The inference variant, without biases.
        var gatesNoBias = new double[batch * g];
        for (int i = 0; i < gatesNoBias.Length; i++)
            gatesNoBias[i] = xproj[i] + hproj[i];
        var c2 = new double[bh];
        var h2 = new double[bh];
        LstmCellReference.Forward(batch, hidden, gatesNoBias, cPrev, c2, h2, new double[4 * bh]);
        using var dc2 = DeviceData.Upload(ops, Guarded(bh));
        using var dh2 = DeviceData.Upload(ops, Guarded(bh));
        ops.LstmCellForward(batch, hidden, dx.All, dhp.All, null, null, dcp.All, dc2.Slice(Guard, bh), dh2.Slice(Guard, bh), null);
        var c2All = DeviceData.Download(ops, dc2);
        var h2All = DeviceData.Download(ops, dh2);
        Check(c2, Inner(c2All, bh), tol, $"H={hidden} c_t (inference, no bias)");
        Check(h2, Inner(h2All, bh), tol, $"H={hidden} h_t (inference, no bias)");
        CheckGuards(c2All, bh, "c_t (inference)");
        CheckGuards(h2All, bh, "h_t (inference)");

        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dcNext = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var actsSeen = Inner(aAll, 4 * bh);
        var cSeen = Inner(cAll, bh);
        var dcRef = (double[])dcNext.Clone();
        var dgRef = new double[batch * g];
        LstmCellReference.Backward(batch, hidden, dy.Zip(dhRec, (p, q) => p + q).ToArray(), dcRef, actsSeen, cSeen, cPrev, dgRef);
        using var ddy = DeviceData.Upload(ops, dy);
        using var ddh = DeviceData.Upload(ops, dhRec);
        var dcGuarded = Guarded(bh);
        Array.Copy(dcNext, 0, dcGuarded, Guard, bh);
        using var ddc = DeviceData.Upload(ops, dcGuarded);
        using var ddg = DeviceData.Upload(ops, Guarded(batch * g));
        ops.LstmCellBackward(batch, hidden, ddy.All, ddh.All, ddc.Slice(Guard, bh), dActs.Slice(Guard, 4 * bh), dc.Slice(Guard, bh), dcp.All, ddg.Slice(Guard, batch * g));
        var dgAll = DeviceData.Download(ops, ddg);
        var dcAll = DeviceData.Download(ops, ddc);
        Check(dgRef, Inner(dgAll, batch * g), tol, $"H={hidden} dgates");
        Check(dcRef, Inner(dcAll, bh), tol, $"H={hidden} dc_(t-1)");
        CheckGuards(dgAll, batch * g, "dgates");
        CheckGuards(dcAll, bh, "dc_(t-1)");
    }
}
