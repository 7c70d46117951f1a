using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

public class RnnCellKernelTests(ITestOutputHelper output)
{
    private double _worst;
    private string _worstWhat = "";

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var dtype in new[] { "float32", "float64" })
            {
                foreach (bool relu in new[] { false, true })
                {
                    foreach (var bias in new[] { true, false })
                        yield return [device[0], dtype, relu, bias];
                }
            }
        }
    }

    private static readonly (int B, int H)[] Sizes = [(1, 1), (1, 4), (3, 7), (5, 20), (2, 33)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchFloat64Reference(string device, string dtype, bool relu, bool bias)
    {
        if (dtype == "float32")
            Check<float>(device, relu, bias);
        else
            Check<double>(device, relu, bias);
    }

    private void Check<T>(string deviceName, bool relu, bool bias) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var rng = new Random(7);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-14);
        foreach (var (batch, hidden) in Sizes)
        {
            int bh = batch * hidden;
            string at = $"{(relu ? "relu" : "tanh")} B={batch} H={hidden}";
            var xproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh, 3));
            var hproj = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh, 3));
            var bih = DeviceData.AsSeen<T>(Numerics.Uniform(rng, hidden));
            var bhh = DeviceData.AsSeen<T>(Numerics.Uniform(rng, hidden));
            var h = new double[bh];
            RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bias ? bih : [], bias ? bhh : [], h);

            using var dx = DeviceData.Upload(ops, xproj);
            using var dhp = DeviceData.Upload(ops, hproj);
            using var dbi = DeviceData.Upload(ops, bih);
            using var dbh = DeviceData.Upload(ops, bhh);
            using var dh = ops.Allocate(bh);
            BufferSlice<T>? bi = bias ? dbi.All : null;
            BufferSlice<T>? bb = bias ? dbh.All : null;
            ops.RnnCellForward(batch, hidden, relu, dx.All, dhp.All, bi, bb, dh.All);
            AssertClose(h, DeviceData.Download(ops, dh), tol, $"h_t {at}");

            // h may overwrite the recurrent projection.
            using var inPlace = DeviceData.Upload(ops, hproj);
            ops.RnnCellForward(batch, hidden, relu, dx.All, inPlace.All, bi, bb, inPlace.All);
            AssertClose(h, DeviceData.Download(ops, inPlace), tol, $"h_t over hproj {at}");

            var hDevice = DeviceData.Download(ops, dh);
            var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dhRec = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bh));
            var dg = new double[bh];
            RnnCellReference.Backward(batch, hidden, relu, dy.Zip(dhRec, (p, q) => p + q).ToArray(), hDevice, dg);
            using var ddy = DeviceData.Upload(ops, dy);
            using var ddh = DeviceData.Upload(ops, dhRec);
            using var ddg = ops.Allocate(bh);
            ops.RnnCellBackward(batch, hidden, relu, ddy.All, ddh.All, dh.All, ddg.All);
            AssertClose(dg, DeviceData.Download(ops, ddg), tol, $"d gates {at}");
            ops.RnnCellBackward(batch, hidden, relu, ddy.All, ddh.All, dh.All, ddy.All);
            AssertClose(dg, DeviceData.Download(ops, ddy), tol, $"d gates over dy {at}");
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
