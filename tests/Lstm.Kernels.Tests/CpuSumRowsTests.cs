using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The host backend's row sum (the bias gradient), which splits its columns across cores when
/// the sum is large: every element must be summed over the rows in order, exactly as one pass
/// would, whatever the split, and only the destination's columns may change.
/// </summary>
public class CpuSumRowsTests
{
    public static IEnumerable<object[]> Shapes() =>
    [
        // Small (one core), odd widths, a width under one column block (64), and sums large enough
        // to split whose widths are not multiples of the block or of the vector width.
        [1, 1], [3, 7], [5, 63], [2, 65], [70, 4099], [300, 1031], [4096, 97],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SumRows_OnSlicesAtOffsets_EqualsTheInOrderSum(int rows, int cols)
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<double>();
        var rng = new Random(rows * 7919 + cols);
        const int offSrc = 5, offDst = 3, tail = 9;
        var src = Numerics.Uniform(rng, offSrc + rows * cols + tail);
        foreach (double beta in new[] { 0.0, 1.0, 0.5 })
        {
            var dst = Numerics.Uniform(rng, offDst + cols + tail);
            var expected = (double[])dst.Clone();
            for (int c = 0; c < cols; c++)
            {
                double sum = beta == 0 ? 0 : beta == 1 ? expected[offDst + c] : beta * expected[offDst + c];
                for (int r = 0; r < rows; r++)
                    sum += src[offSrc + r * cols + c];
                expected[offDst + c] = sum;
            }

            using var ds = DeviceData.Upload(ops, src);
            using var dd = DeviceData.Upload(ops, dst);
            ops.SumRows(rows, cols, ds.Slice(offSrc, (long)rows * cols), beta, dd.Slice(offDst, cols));
            var actual = DeviceData.Download(ops, dd);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void SumRows_Float32_LargeSumMatchesFloat64()
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<float>();
        const int rows = 400, cols = 2051;
        var rng = new Random(17);
        var src = Numerics.RoundToFloat(Numerics.Uniform(rng, rows * cols));
        var expected = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                expected[c] += src[r * cols + c];
        }

        using var ds = DeviceData.Upload(ops, src);
        using var dd = ops.Allocate(cols);
        ops.SumRows(rows, cols, ds.All, 0f, dd.All);
        double err = Numerics.MaxAbsError(DeviceData.Download(ops, dd), expected);
        Assert.True(err <= 1e-4, $"max error {err:E2}");
    }
}
