using Lstm.Runtime;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests;

public class DropoutKernelTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var dtype in new[] { "float32", "float64" })
                yield return [device[0], dtype];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dropout_MatchesHostMaskExactly(string device, string dtype)
    {
        if (dtype == "float32")
            MatchesHost<float>(device);
        else
            MatchesHost<double>(device);
    }

    private static void MatchesHost<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var rng = new Random(11);
        double tol = DeviceData.Tolerance<T>(1e-6, 1e-15);
        // A base index past 2^32 exercises the counter's high word; seed and stream use both key words.
        foreach (var (n, p, seed, stream, baseIndex) in new (int, double, ulong, ulong, long)[]
        {
            (1, 0.5, 0, 0, 0),
            (33, 0.25, 7, 1, 3),
            (1013, 0.3, 0x0123456789abcdefUL, 0xfedcba9876543210UL, 5_000_000_123L),
        })
        {
            // Values in [1, 2] so a kept element is never zero.
            var x = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n, 0.5).Select(v => v + 1.5).ToArray());
            double pSeen = DeviceData.AsSeen<T>([p])[0];
            var expected = new double[n];
            DropoutReference.Dropout(seed, stream, baseIndex, pSeen, x, expected);
            using var dx = DeviceData.Upload(ops, x);
            using var dy = ops.Allocate(n);
            ops.Dropout(seed, stream, baseIndex, DeviceData.From<T>(p), dx.All, dy.All);
            var actual = DeviceData.Download(ops, dy);
            for (int i = 0; i < n; i++)
                Assert.True(expected[i] == 0 == (actual[i] == 0), $"n={n} p={p}: element {i} is {actual[i]} on the device, {expected[i]} on the host");
            double err = Numerics.MaxAbsError(actual, expected);
            Assert.True(err <= tol * 4, $"n={n} p={p}: max |error| {err:E2}");

            // In place (y = x) gives the same values.
            ops.Dropout(seed, stream, baseIndex, DeviceData.From<T>(p), dx.All, dx.All);
            Assert.Equal(actual, DeviceData.Download(ops, dx));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dropout_KeepRateIsWithinStatisticalBounds(string device, string dtype)
    {
        if (dtype == "float32")
            KeepRate<float>(device);
        else
            KeepRate<double>(device);
    }

    private static void KeepRate<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        const int n = 20_000;
        using var x = ops.Allocate(n);
        ops.Fill(x.All, DeviceData.From<T>(1));
        using var y = ops.Allocate(n);
        foreach (double p in new[] { 0.1, 0.5, 0.9 })
        {
            ops.Dropout(1234, 2, 0, DeviceData.From<T>(p), x.All, y.All);
            var values = DeviceData.Download(ops, y);
            int kept = values.Count(v => v != 0);
            double sigma = Math.Sqrt(n * p * (1 - p));
            Assert.True(Math.Abs(kept - n * (1 - p)) <= 5 * sigma, $"p={p}: kept {kept} of {n}, expected {n * (1 - p)} ± {5 * sigma:F0}");
            double scale = 1 / (1 - (double)DeviceData.AsSeen<T>([p])[0]);
            Assert.All(values.Where(v => v != 0), v => Assert.Equal(scale, v, DeviceData.Tolerance<T>(1e-5, 1e-12)));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dropout_ChunkedCallsEqualOneWholeCall(string device, string dtype)
    {
        if (dtype == "float32")
            Chunked<float>(device);
        else
            Chunked<double>(device);
    }

    private static void Chunked<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        const int n = 301;
        const long origin = 1000;
        var x = Numerics.Uniform(new Random(13), n);
        using var dx = DeviceData.Upload(ops, x);
        using var whole = ops.Allocate(n);
        using var parts = ops.Allocate(n);
        T p = DeviceData.From<T>(0.4);
        ops.Dropout(99, 5, origin, p, dx.All, whole.All);
        int offset = 0;
        foreach (int len in new[] { 1, 7, 100, 64, n - 172 })
        {
            ops.Dropout(99, 5, origin + offset, p, dx.Slice(offset, len), parts.Slice(offset, len));
            offset += len;
        }

        Assert.Equal(n, offset);
        Assert.Equal(DeviceData.Download(ops, whole), DeviceData.Download(ops, parts));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dropout_ZeroProbabilityIsTheIdentity(string device, string dtype)
    {
        if (dtype == "float32")
            Identity<float>(device);
        else
            Identity<double>(device);
    }

    private static void Identity<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var x = DeviceData.AsSeen<T>(Numerics.Uniform(new Random(17), 77, 10));
        using var dx = DeviceData.Upload(ops, x);
        using var dy = ops.Allocate(77);
        ops.Dropout(5, 0, 0, DeviceData.From<T>(0), dx.All, dy.All);
        Assert.Equal(x, DeviceData.Download(ops, dy));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dropout_ThrowsOnBadArguments(string device, string dtype)
    {
        if (dtype == "float32")
            BadArguments<float>(device);
        else
            BadArguments<double>(device);
    }

    private static void BadArguments<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        using var x = ops.Allocate(4);
        using var y = ops.Allocate(3);
        Assert.Contains("outside [0, 1)", Assert.Throws<LstmException>(() => ops.Dropout(1, 0, 0, DeviceData.From<T>(1), x.All, x.All)).Message);
        Assert.Contains("outside [0, 1)", Assert.Throws<LstmException>(() => ops.Dropout(1, 0, 0, DeviceData.From<T>(-0.1), x.All, x.All)).Message);
        Assert.Contains("negative", Assert.Throws<LstmException>(() => ops.Dropout(1, 0, -1, DeviceData.From<T>(0.5), x.All, x.All)).Message);
        Assert.Contains("3", Assert.Throws<LstmException>(() => ops.Dropout(1, 0, 0, DeviceData.From<T>(0.5), x.All, y.All)).Message);
    }
}
