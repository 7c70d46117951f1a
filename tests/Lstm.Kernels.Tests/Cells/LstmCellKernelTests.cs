using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Cells;

public class LstmCellKernelTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var dtype in new[] { "float32", "float64" })
            {
                foreach (var bias in new[] { true, false })
                    yield return [device[0], dtype, bias];
            }
        }
    }

    // (B, H): ones, odd sizes, and sizes that are not multiples of a warp or of the CPU group.
    private static readonly (int B, int H)[] Sizes = [(1, 1), (1, 4), (3, 7), (5, 20), (2, 33)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchFloat64Reference(string device, string dtype, bool bias)
    {
        if (dtype == "float32")
            Check<float>(device, bias);
        else
            Check<double>(device, bias);
    }

    private static void Check<T>(string deviceName, bool bias) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var rng = new Random(3);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        foreach (var (batch, hidden) in Sizes)
        {
            int g = 4 * hidden;
            int bh = batch * hidden;
            // Pre-activations up to ±6 reach the flat ends of σ and tanh.
            var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3));
            var hproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3));
            var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g));
            var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g));
            var cPrev = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh, 2));
            var gates = new double[batch * g];
            for (int r = 0; r < batch; r++)
            {
                for (int q = 0; q < g; q++)
                    gates[r * g + q] = xproj[r * g + q] + hproj[r * g + q] + (bias ? bih[q] + bhh[q] : 0);
            }

            var c = new double[bh];
            var h = new double[bh];
            var acts = new double[batch * g];
            LstmCellReference.Forward(batch, hidden, gates, cPrev, c, h, acts);

            using var dx = DeviceData.Upload(ops, xproj);
            using var dh = DeviceData.Upload(ops, hproj);
            using var dbi = DeviceData.Upload(ops, bih);
            using var dbh = DeviceData.Upload(ops, bhh);
            using var dcp = DeviceData.Upload(ops, cPrev);
            using var dc = ops.Allocate(bh);
            using var dhOut = ops.Allocate(bh);
            using var dActs = ops.Allocate(batch * g);
            BufferSlice<T>? bi = bias ? dbi.All : null;
            BufferSlice<T>? bb = bias ? dbh.All : null;
            ops.LstmCellForward(batch, hidden, dx.All, dh.All, bi, bb, dcp.All, dc.All, dhOut.All, dActs.All);
            AssertClose(c, DeviceData.Download(ops, dc), tol, $"c_t B={batch} H={hidden}");
            AssertClose(h, DeviceData.Download(ops, dhOut), tol, $"h_t B={batch} H={hidden}");
            AssertClose(acts, DeviceData.Download(ops, dActs), tol, $"activations B={batch} H={hidden}");

            // The inference variant computes the same c and h and may update c in place.
            using var cInPlace = DeviceData.Upload(ops, cPrev);
            using var hInf = ops.Allocate(bh);
            ops.LstmCellForward(batch, hidden, dx.All, dh.All, bi, bb, cInPlace.All, cInPlace.All, hInf.All, null);
            AssertClose(c, DeviceData.Download(ops, cInPlace), tol, $"inference c_t B={batch} H={hidden}");
            AssertClose(h, DeviceData.Download(ops, hInf), tol, $"inference h_t B={batch} H={hidden}");

            // Backward from the device's own stored activations.
            var actsDevice = DeviceData.Download(ops, dActs);
            var cDevice = DeviceData.Download(ops, dc);
            var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dcIn = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dcRef = (double[])dcIn.Clone();
            var dgRef = new double[batch * g];
            LstmCellReference.Backward(batch, hidden, dy.Zip(dhRec, (p, q) => p + q).ToArray(), dcRef, actsDevice, cDevice, cPrev, dgRef);
            using var ddy = DeviceData.Upload(ops, dy);
            using var ddh = DeviceData.Upload(ops, dhRec);
            using var ddc = DeviceData.Upload(ops, dcIn);
            using var ddg = ops.Allocate(batch * g);
            ops.LstmCellBackward(batch, hidden, ddy.All, ddh.All, ddc.All, dActs.All, dc.All, dcp.All, ddg.All);
            AssertClose(dgRef, DeviceData.Download(ops, ddg), tol, $"d gates B={batch} H={hidden}");
            AssertClose(dcRef, DeviceData.Download(ops, ddc), tol, $"d c_(t-1) B={batch} H={hidden}");
        }
    }

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        double err = Numerics.MaxAbsError(actual, expected);
        Assert.True(err <= tol, $"{what}: max |error| {err:E2} > {tol:E1}");
    }
}
