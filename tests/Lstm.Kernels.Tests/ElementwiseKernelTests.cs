using Lstm.Tests.Shared;


namespace Lstm.Kernels.Tests;

public class ElementwiseKernelTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    // Lengths of 0, 1, odd and larger than the CPU accelerator's group (so kernels loop).
    private static readonly int[] Lengths = [0, 1, 7, 33, 100];

    [Theory]
    [MemberData(nameof(Devices))]
    public void SumRows_OverwritesOrAccumulates(string device)
    {
        var ops = TestDevices.Get(device).Ops<double>();
        var rng = new Random(1);
        foreach (int rows in new[] { 1, 5, 37 })
        {
            foreach (int cols in new[] { 1, 9, 40 })
            {
                var src = Numerics.Uniform(rng, rows * cols);
                var dst = Numerics.Uniform(rng, cols);
                using var ds = DeviceData.Upload(ops, src);
                using var dd = DeviceData.Upload(ops, dst);
                ops.SumRows(rows, cols, ds.All, 1.0, dd.All);
                var expected = Enumerable.Range(0, cols).Select(j => dst[j] + Enumerable.Range(0, rows).Sum(r => src[r * cols + j])).ToArray();
                Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dd), expected) < 1e-13);
                ops.SumRows(rows, cols, ds.All, 0.0, dd.All);
                var sums = Enumerable.Range(0, cols).Select(j => Enumerable.Range(0, rows).Sum(r => src[r * cols + j])).ToArray();
                Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dd), sums) < 1e-13);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SwapAxes01_TransposesFirstTwoAxes(string device)
    {
        var ops = TestDevices.Get(device).Ops<float>();
        foreach (var (d0, d1, d2) in new[] { (1, 1, 1), (2, 3, 4), (5, 1, 3), (7, 9, 1), (3, 50, 10) })
        {
            var src = Enumerable.Range(0, d0 * d1 * d2).Select(i => (double)i).ToArray();
            using var ds = DeviceData.Upload(ops, src);
            using var dd = ops.Allocate(src.Length);
            ops.SwapAxes01(d0, d1, d2, ds.All, dd.All);
            var got = DeviceData.Download(ops, dd);
            for (int i0 = 0; i0 < d0; i0++)
            {
                for (int i1 = 0; i1 < d1; i1++)
                {
                    for (int k = 0; k < d2; k++)
                        Assert.Equal(src[(i0 * d1 + i1) * d2 + k], got[(i1 * d0 + i0) * d2 + k]);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AxpyFillAndRowBias_MatchHostFormulas(string device)
    {
        var ops = TestDevices.Get(device).Ops<double>();
        var rng = new Random(2);
        foreach (int n in Lengths)
        {
            var x = Numerics.Uniform(rng, n);
            var y = Numerics.Uniform(rng, n);
            using var dx = DeviceData.Upload(ops, x);
            using var dy = DeviceData.Upload(ops, y);
            ops.Axpy(-0.3, dx.All, dy.All);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dy), y.Zip(x, (a, b) => a - 0.3 * b).ToArray()) < 1e-15);

            ops.Fill(dx.All, 2.5);
            Assert.All(DeviceData.Download(ops, dx), v => Assert.Equal(2.5, v));
        }

        foreach (var (rows, cols) in new[] { (1, 1), (3, 5), (17, 2) })
        {
            var m = Numerics.Uniform(rng, rows * cols);
            var b = Numerics.Uniform(rng, cols);
            using var dm = DeviceData.Upload(ops, m);
            using var db = DeviceData.Upload(ops, b);
            ops.AddRowBias(cols, dm.All, db.All);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dm), m.Select((v, i) => v + b[i % cols]).ToArray()) < 1e-15);
        }
    }
}
