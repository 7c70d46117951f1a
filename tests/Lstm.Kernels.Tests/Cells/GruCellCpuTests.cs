using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// The <c>cpu</c> device's GRU cell where the shared kernel tests do not reach: shapes large
/// enough to be split across cores (the split must not change a result) and odd hidden sizes that
/// leave a scalar tail in every row.
/// </summary>
public class GruCellCpuTests(ITestOutputHelper output) : CpuCellTestBase
{
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
}
