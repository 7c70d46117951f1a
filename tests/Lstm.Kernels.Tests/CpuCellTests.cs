using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The <c>cpu</c> device's GRU and RNN cells and dropout where the shared kernel tests do not
/// reach: shapes large enough to be split across cores (the split must not change a result),
/// odd hidden sizes that leave a scalar tail in every row, no allocation per time step, and
/// clear errors for bad input.
/// </summary>
public class CpuCellTests(ITestOutputHelper output)
{
    private static IDeviceOps<T> Ops<T>() where T : unmanaged => TestDevices.Get(ComputeDevice.CpuName).Ops<T>();

    public static IEnumerable<object[]> Types() => [["float32"], ["float64"]];

    [Theory]
    [MemberData(nameof(Types))]
    public void Gru_LargeShapeSplitAcrossCores_MatchesFloat64Reference(string dtype)
    {
        if (dtype == "float32")
            Gru<float>(67, 1001);
        else
            Gru<double>(67, 1001);
    }

    private void Gru<T>(int batch, int hidden) where T : unmanaged
    {
        var ops = Ops<T>();
        var rng = new Random(21);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        int g = 3 * hidden, bh = batch * hidden;
        var (xproj, hproj, bih, bhh, hPrev) = CellInputs<T>(rng, batch, g, bh);
        var h = new double[bh];
        var acts = new double[4 * bh];
        GruCellReference.Forward(batch, hidden, xproj, hproj, bih, bhh, hPrev, h, acts);
        using var dx = DeviceData.Upload(ops, xproj);
        using var dhp = DeviceData.Upload(ops, hproj);
        using var dbi = DeviceData.Upload(ops, bih);
        using var dbh = DeviceData.Upload(ops, bhh);
        using var dPrev = DeviceData.Upload(ops, hPrev);
        using var dh = ops.Allocate(bh);
        using var dActs = ops.Allocate(4 * bh);
        ops.GruCellForward(batch, hidden, dx.All, dhp.All, dbi.All, dbh.All, dPrev.All, dh.All, dActs.All);
        double errH = Check(h, DeviceData.Download(ops, dh), tol, "h_t");
        double errA = Check(acts, DeviceData.Download(ops, dActs), tol, "acts");

        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dgX = new double[batch * g];
        var dgH = new double[batch * g];
        var dPrevRef = new double[bh];
        GruCellReference.Backward(batch, hidden, dy.Zip(dhRec, (p, q) => p + q).ToArray(), DeviceData.Download(ops, dActs), hPrev, dgX, dgH, dPrevRef);
        using var ddy = DeviceData.Upload(ops, dy);
        using var ddh = DeviceData.Upload(ops, dhRec);
        using var ddgX = ops.Allocate(batch * g);
        using var ddgH = ops.Allocate(batch * g);
        ops.GruCellBackward(batch, hidden, ddy.All, ddh.All, dActs.All, dPrev.All, ddgX.All, ddgH.All, ddy.All);
        double errX = Check(dgX, DeviceData.Download(ops, ddgX), tol, "d xproj");
        double errG = Check(dgH, DeviceData.Download(ops, ddgH), tol, "d hproj");
        double errP = Check(dPrevRef, DeviceData.Download(ops, ddy), tol, "d h_(t-1) over dy");
        output.WriteLine($"{typeof(T).Name} GRU B={batch} H={hidden}: max |error| h {errH:E2}, acts {errA:E2}, dX {errX:E2}, dH {errG:E2}, dh_prev {errP:E2}");
    }

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
    /// Random cell inputs as <typeparamref name="T"/> holds them: xproj and hproj [B, G], both
    /// biases [G], the previous state [B, H] (<paramref name="state"/> = B·H elements).
    /// </summary>
    private static (double[] Xproj, double[] Hproj, double[] Bih, double[] Bhh, double[] Prev) CellInputs<T>(Random rng, int batch, int g, int state)
        where T : unmanaged => (
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, g)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, g)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, state)));

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

    public static IEnumerable<object[]> RnnCases()
    {
        foreach (var dtype in new[] { "float32", "float64" })
        {
            foreach (bool relu in new[] { false, true })
                yield return [dtype, relu];
        }
    }

    [Theory]
    [MemberData(nameof(RnnCases))]
    public void Rnn_LargeShapeSplitAcrossCores_MatchesFloat64Reference(string dtype, bool relu)
    {
        // B·H past a million elements splits the backward pass too.
        if (dtype == "float32")
            Rnn<float>(1031, 1021, relu);
        else
            Rnn<double>(1031, 1021, relu);
    }

    private void Rnn<T>(int batch, int hidden, bool relu) where T : unmanaged
    {
        var ops = Ops<T>();
        var rng = new Random(22);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        int bh = batch * hidden;
        var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh, 3));
        var hproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh, 3));
        var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, hidden));
        var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, hidden));
        var h = new double[bh];
        RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bih, bhh, h);
        using var dx = DeviceData.Upload(ops, xproj);
        using var dhp = DeviceData.Upload(ops, hproj);
        using var dbi = DeviceData.Upload(ops, bih);
        using var dbh = DeviceData.Upload(ops, bhh);
        // h_t over hproj, as the doc allows.
        ops.RnnCellForward(batch, hidden, relu, dx.All, dhp.All, dbi.All, dbh.All, dhp.All);
        var hDevice = DeviceData.Download(ops, dhp);
        double errH = Check(h, hDevice, tol, "h_t");

        var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
        var dg = new double[bh];
        RnnCellReference.Backward(batch, hidden, relu, dy.Zip(dhRec, (p, q) => p + q).ToArray(), hDevice, dg);
        using var ddy = DeviceData.Upload(ops, dy);
        using var ddh = DeviceData.Upload(ops, dhRec);
        ops.RnnCellBackward(batch, hidden, relu, ddy.All, ddh.All, dhp.All, ddh.All);
        double errG = Check(dg, DeviceData.Download(ops, ddh), tol, "dgates over dhRec");
        output.WriteLine($"{typeof(T).Name} RNN {(relu ? "relu" : "tanh")} B={batch} H={hidden}: max |error| h {errH:E2}, dgates {errG:E2}");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Dropout_LargeTensorSplitAcrossCores_DrawsTheHostMask(string dtype)
    {
        if (dtype == "float32")
            DropoutLarge<float>();
        else
            DropoutLarge<double>();
    }

    private void DropoutLarge<T>() where T : unmanaged
    {
        var ops = Ops<T>();
        const int n = 100_003;
        var rng = new Random(23);
        var x = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n, 0.5).Select(v => v + 1.5).ToArray());
        const double p = 0.35;
        double pSeen = DeviceData.AsSeen<T>([p])[0];
        var expected = new double[n];
        DropoutReference.Dropout(42, 3, 1L << 33, pSeen, x, expected);
        using var dx = DeviceData.Upload(ops, x);
        ops.Dropout(42, 3, 1L << 33, DeviceData.From<T>(p), dx.All, dx.All);
        var actual = DeviceData.Download(ops, dx);
        for (int i = 0; i < n; i++)
            Assert.True(expected[i] == 0 == (actual[i] == 0), $"element {i} is {actual[i]} on cpu, {expected[i]} on the host");
        double err = Numerics.MaxAbsError(actual, expected);
        Assert.True(err <= DeviceData.Tolerance<T>(4e-6, 4e-15), $"max |error| {err:E2}");
        output.WriteLine($"{typeof(T).Name} dropout n={n}: same mask, max |error| {err:E2}");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Dropout_CountersCrossingA32BitBoundary_DrawTheHostMask(string dtype)
    {
        if (dtype == "float32")
            DropoutWrap<float>();
        else
            DropoutWrap<double>();
    }

    private static void DropoutWrap<T>() where T : unmanaged
    {
        // Blocks of eight whose low counter words wrap, at 2^32 and 3·2^32, and lengths of 1, 7 and 61.
        var ops = Ops<T>();
        var rng = new Random(24);
        foreach (long baseIndex in new[] { (1L << 32) - 13, (3L << 32) - 5, (1L << 32) - 1 })
        {
            foreach (int n in new[] { 1, 7, 61 })
            {
                var x = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n, 0.5).Select(v => v + 1.5).ToArray());
                var expected = new double[n];
                double pSeen = DeviceData.AsSeen<T>([0.5])[0];
                DropoutReference.Dropout(0xdeadbeefcafeUL, 9, baseIndex, pSeen, x, expected);
                using var dx = DeviceData.Upload(ops, x);
                using var dy = ops.Allocate(n);
                ops.Dropout(0xdeadbeefcafeUL, 9, baseIndex, DeviceData.From<T>(0.5), dx.All, dy.All);
                var actual = DeviceData.Download(ops, dy);
                for (int i = 0; i < n; i++)
                    Assert.True(expected[i] == 0 == (actual[i] == 0), $"base {baseIndex} n={n}: element {i} is {actual[i]} on cpu, {expected[i]} on the host");
                Assert.True(Numerics.MaxAbsError(actual, expected) <= DeviceData.Tolerance<T>(4e-6, 4e-15));
            }
        }
    }

    [Fact]
    public void TimeStepOperations_AllocateNothing()
    {
        var ops = Ops<float>();
        const int batch = 5, hidden = 21;
        using var xproj = ops.Allocate(batch * 3 * hidden);
        using var hproj = ops.Allocate(batch * 3 * hidden);
        using var bias = ops.Allocate(3 * hidden);
        using var h = ops.Allocate(batch * hidden);
        using var acts = ops.Allocate(batch * 4 * hidden);
        using var dgX = ops.Allocate(batch * 3 * hidden);
        using var dgH = ops.Allocate(batch * 3 * hidden);
        using var dy = ops.Allocate(batch * hidden);
        void Step()
        {
            ops.GruCellForward(batch, hidden, xproj.All, hproj.All, bias.All, bias.All, h.All, h.All, acts.All);
            ops.GruCellForward(batch, hidden, xproj.All, hproj.All, null, null, h.All, h.All, null);
            ops.GruCellBackward(batch, hidden, dy.All, dy.All, acts.All, h.All, dgX.All, dgH.All, dy.All);
            ops.RnnCellForward(batch, hidden, false, dy.All, h.All, null, null, h.All);
            ops.RnnCellForward(batch, hidden, true, dy.All, h.All, bias.All, bias.All, h.All);
            ops.RnnCellBackward(batch, hidden, false, dy.All, dy.All, h.All, dy.All);
            ops.Dropout(7, 1, 0, 0.25f, h.All, h.All);
        }

        // Past tiered compilation's call counting (30 calls of each method), whose bookkeeping
        // can allocate on the calling thread once: the steady state is what is measured.
        for (int i = 0; i < 64; i++)
            Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Cells_ThrowOnShortBuffersAndUnknownActivation()
    {
        var ops = Ops<float>();
        using var small = ops.Allocate(5);
        using var big = ops.Allocate(64);
        var gru = Assert.Throws<LstmException>(() =>
            ops.GruCellForward(2, 3, small.All, big.All, null, null, big.All, big.All, null));
        Assert.Contains("xproj [B, 3H]", gru.Message);
        var rnn = Assert.Throws<LstmException>(() =>
            ops.RnnCellBackward(2, 3, false, big.All, big.All, small.All, big.All));
        Assert.Contains("h_t [B, H]", rnn.Message);
        var act = Assert.Throws<LstmException>(() => new RNNOptions(2, 3, Nonlinearity: (RnnNonlinearity)7).Validate());
        Assert.Contains("nonlinearity", act.Message);
    }

    private static double Check(double[] expected, double[] actual, double tol, string what)
    {
        double err = Numerics.MaxAbsError(actual, expected);
        Assert.True(err <= tol, $"{what}: max |error| {err:E2} > {tol:E2}");
        return err;
    }
}
