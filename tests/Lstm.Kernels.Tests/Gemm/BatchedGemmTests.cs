using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>The batched GEMM (<see cref="BatchedGemmKernels"/>, the cpu GEMM product by product) on every device against the GEMM reference.</summary>
public class BatchedGemmTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(Devices))]
    public void BatchedGemm_MatchesReferenceProductByProduct_Float32(string device) => Batched<float>(device, 2e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void BatchedGemm_MatchesReferenceProductByProduct_Float64(string device) => Batched<double>(device, 1e-14);

    private static void Batched<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(27);
        foreach (var (batch, m, n, k, transA, transB, shareB, beta) in new[]
        {
            (1, 1, 1, 1, false, false, false, 0.0), (3, 5, 7, 4, false, true, false, 0.0), (4, 7, 3, 5, true, false, false, 1.0),
            (2, 9, 11, 6, true, true, false, 0.5), (5, 3, 8, 13, false, false, true, 1.0),
        })
        {
            // Padded leading dimensions and strides, so neither the rows nor the products are contiguous.
            int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
            var shape = new GemmShape(m, n, k, aCols + 1, bCols + 2, n + 3, transA ? 1 : 0, transB ? 1 : 0);
            long strideA = (long)aRows * shape.Lda + 2, strideB = shareB ? 0 : (long)bRows * shape.Ldb + 1, strideC = (long)m * shape.Ldc + 4;
            var a = DeviceData.AsSeen<T>(Numerics.Uniform(rng, (int)(batch * strideA)));
            var b = DeviceData.AsSeen<T>(Numerics.Uniform(rng, (int)Math.Max(strideB * batch, (long)bRows * shape.Ldb)));
            var c = DeviceData.AsSeen<T>(Numerics.Uniform(rng, (int)(batch * strideC)));
            if (beta == 0)
                Array.Fill(c, double.NaN); // β = 0 must not read C
            using var da = DeviceData.Upload(ops, a);
            using var db = DeviceData.Upload(ops, b);
            using var dc = DeviceData.Upload(ops, c);
            ops.BatchedGemm(batch, shape, strideA, strideB, strideC, DeviceData.From<T>(0.75), da.All, db.All, DeviceData.From<T>(beta), dc.All);
            var got = DeviceData.Download(ops, dc);
            var expected = (double[])c.Clone();
            for (int i = 0; i < batch; i++)
            {
                var ci = expected.AsSpan((int)(i * strideC), (int)((m - 1) * shape.Ldc + n));
                if (beta == 0)
                    ci.Clear();
                GemmReference.Gemm(shape, 0.75, a.AsSpan((int)(i * strideA)), b.AsSpan((int)(i * strideB)), beta, ci);
            }

            for (int i = 0; i < got.Length; i++)
            {
                long within = i % strideC;
                bool inC = i < batch * strideC && within / shape.Ldc < m && within % shape.Ldc < n;
                if (inC)
                    Assert.True(Math.Abs(got[i] - expected[i]) < tolerance * k, $"{device} batch {batch} [{m}, {n}, {k}] transA {transA} transB {transB}: element {i}, {got[i]} vs {expected[i]}");
                else if (beta != 0)
                    Assert.Equal(c[i], got[i]); // outside the products: untouched
            }
        }
    }
}
