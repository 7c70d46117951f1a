using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The <c>cpu</c> device's dropout where the shared kernel tests do not reach: tensors large enough
/// to be split across cores and counters crossing a 32-bit boundary draw the host's mask.
/// </summary>
public class DropoutCpuTests(ITestOutputHelper output) : Cells.CpuCellTestBase
{
    public static IEnumerable<object[]> Types() => [["float32"], ["float64"]];

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
}
