using Lstm.Tests.Shared;


namespace Lstm.Kernels.Tests;

public class GatherKernelTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            yield return [device[0], "float32"];
            yield return [device[0], "float64"];
        }
    }

    // Rows and widths: 1, odd, and not a multiple of any vector width.
    private static readonly (int Rows, int Cols)[] Sizes = [(1, 1), (1, 5), (3, 7), (13, 33), (6, 1)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void GatherRows_MatchesReference(string device, string dtype)
    {
        if (dtype == "float32")
            Check<float>(device);
        else
            Check<double>(device);
    }

    [Fact]
    public void GatherRows_ThrowsOnRowOutsideSource()
    {
        var ops = TestDevices.Get("ilgpu-cpu").Ops<float>();
        using var src = ops.Allocate(6);
        using var dst = ops.Allocate(4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ops.GatherRows(2, [0, 3], src.All, dst.All));
        Assert.Contains("row 3 outside a source of 3 rows", e.Message, StringComparison.Ordinal);
    }

    private static void Check<T>(string deviceName) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName).Ops<T>();
        var rng = new Random(3);
        foreach (var (rows, cols) in Sizes)
        {
            // A permutation, then a selection with repeats from a larger source.
            int[] perm = Enumerable.Range(0, rows).OrderBy(_ => rng.Next()).ToArray();
            int[] pick = Enumerable.Range(0, rows + 2).Select(_ => rng.Next(rows)).ToArray();
            foreach (var index in new[] { perm, pick })
            {
                var src = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * cols));
                var expected = new double[index.Length * cols];
                for (int r = 0; r < index.Length; r++)
                    Array.Copy(src, index[r] * cols, expected, r * cols, cols);
                using var dsrc = DeviceData.Upload(ops, src);
                using var ddst = ops.Allocate(index.Length * cols);
                ops.GatherRows(cols, index, dsrc.All, ddst.All);
                Assert.Equal(expected, DeviceData.Download(ops, ddst));
            }
        }
    }
}
