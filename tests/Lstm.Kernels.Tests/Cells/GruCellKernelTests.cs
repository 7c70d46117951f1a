using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

public class GruCellKernelTests(ITestOutputHelper output)
{
    private double _worst;
    private string _worstWhat = "";

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

    private void Check<T>(string deviceName, bool bias) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var rng = new Random(5);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        foreach (var (batch, hidden) in Sizes)
        {
            int g = 3 * hidden;
            int bh = batch * hidden;
            string at = $"B={batch} H={hidden}";
            // Pre-activations up to ±6 reach the flat ends of σ and tanh.
            var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3));
            var hproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3));
            var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g));
            var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, g));
            var hPrev = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var h = new double[bh];
            var acts = new double[batch * 4 * hidden];
            GruCellReference.Forward(batch, hidden, xproj, hproj, bias ? bih : [], bias ? bhh : [], hPrev, h, acts);

            using var dx = DeviceData.Upload(ops, xproj);
            using var dhp = DeviceData.Upload(ops, hproj);
            using var dbi = DeviceData.Upload(ops, bih);
            using var dbh = DeviceData.Upload(ops, bhh);
            using var dPrev = DeviceData.Upload(ops, hPrev);
            using var dh = ops.Allocate(bh);
            using var dActs = ops.Allocate(batch * 4 * hidden);
            BufferSlice<T>? bi = bias ? dbi.All : null;
            BufferSlice<T>? bb = bias ? dbh.All : null;
            ops.GruCellForward(batch, hidden, dx.All, dhp.All, bi, bb, dPrev.All, dh.All, dActs.All);
            AssertClose(h, DeviceData.Download(ops, dh), tol, $"h_t {at}");
            AssertClose(acts, DeviceData.Download(ops, dActs), tol, $"activations {at}");

            // The inference variant computes the same h, here in place over h_{t-1}.
            using var hInPlace = DeviceData.Upload(ops, hPrev);
            ops.GruCellForward(batch, hidden, dx.All, dhp.All, bi, bb, hInPlace.All, hInPlace.All, null);
            AssertClose(h, DeviceData.Download(ops, hInPlace), tol, $"inference h_t in place {at}");

            // So does the training variant.
            using var hInPlaceTraining = DeviceData.Upload(ops, hPrev);
            using var actsInPlace = ops.Allocate(batch * 4 * hidden);
            ops.GruCellForward(batch, hidden, dx.All, dhp.All, bi, bb, hInPlaceTraining.All, hInPlaceTraining.All, actsInPlace.All);
            AssertClose(h, DeviceData.Download(ops, hInPlaceTraining), tol, $"training h_t in place {at}");
            AssertClose(acts, DeviceData.Download(ops, actsInPlace), tol, $"training activations in place {at}");

            // Backward from the device's own stored activations.
            var actsDevice = DeviceData.Download(ops, dActs);
            var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dgX = new double[batch * g];
            var dgH = new double[batch * g];
            var dPrevRef = new double[bh];
            GruCellReference.Backward(batch, hidden, dy.Zip(dhRec, (p, q) => p + q).ToArray(), actsDevice, hPrev, dgX, dgH, dPrevRef);
            using var ddy = DeviceData.Upload(ops, dy);
            using var ddh = DeviceData.Upload(ops, dhRec);
            using var ddgX = ops.Allocate(batch * g);
            using var ddgH = ops.Allocate(batch * g);
            using var ddPrev = ops.Allocate(bh);
            ops.GruCellBackward(batch, hidden, ddy.All, ddh.All, dActs.All, dPrev.All, ddgX.All, ddgH.All, ddPrev.All);
            AssertClose(dgX, DeviceData.Download(ops, ddgX), tol, $"d xproj {at}");
            AssertClose(dgH, DeviceData.Download(ops, ddgH), tol, $"d hproj {at}");
            AssertClose(dPrevRef, DeviceData.Download(ops, ddPrev), tol, $"d h_(t-1) {at}");

            // dhPrev may overwrite dhRec.
            ops.GruCellBackward(batch, hidden, ddy.All, ddh.All, dActs.All, dPrev.All, ddgX.All, ddgH.All, ddh.All);
            AssertClose(dPrevRef, DeviceData.Download(ops, ddh), tol, $"d h_(t-1) over dhRec {at}");
        }

        output.WriteLine($"{typeof(T).Name} on {deviceName}: worst max |error| {_worst:E2} ({_worstWhat})");
    }

    private void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        double err = Numerics.MaxAbsError(actual, expected);
        if (!(err <= _worst))
        {
            _worst = err;
            _worstWhat = what;
        }

        Assert.True(err <= tol, $"{what}: max |error| {err:E2} > {tol:E1}");
    }
}
