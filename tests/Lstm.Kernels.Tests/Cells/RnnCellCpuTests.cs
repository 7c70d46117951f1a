using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// The <c>cpu</c> device's plain RNN cell where the shared kernel tests do not reach: shapes large
/// enough to be split across cores (the split must not change a result) and odd hidden sizes that
/// leave a scalar tail in every row.
/// </summary>
public class RnnCellCpuTests(ITestOutputHelper output) : CpuCellTestBase
{
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
}
