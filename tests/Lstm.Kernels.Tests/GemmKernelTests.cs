using Lstm.Runtime.Backends;
using Lstm.Runtime.Diagnostics;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests;

public class GemmKernelTests
{
    // Sizes of 1, odd sizes and sizes that are not multiples of either tile edge (4 on the CPU
    // accelerator, 16 on GPUs), and the LSTM's recurrent shape [B, H] x [H, 4H].
    public static readonly (int M, int N, int K)[] Shapes =
        [(1, 1, 1), (1, 5, 3), (4, 4, 4), (5, 7, 3), (3, 1, 17), (17, 9, 33), (5, 80, 20)];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            // The host backend has one GEMM of its own; ILGPU devices run both kernels.
            var algorithms = (string)device[0] == "cpu" ? new[] { GemmAlgorithm.Packed } : new[] { GemmAlgorithm.Tiled, GemmAlgorithm.RowDot };
            foreach (var algorithm in algorithms)
            {
                yield return [device[0], algorithm, "float32"];
                yield return [device[0], algorithm, "float64"];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_MatchesFloat64Reference_EveryTransposeAndShape(string device, GemmAlgorithm algorithm, string dtype)
    {
        if (dtype == "float32")
            Check<float>(device, algorithm);
        else
            Check<double>(device, algorithm);
    }

    private static void Check<T>(string deviceName, GemmAlgorithm algorithm) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName, algorithm).Ops<T>();
        var rng = new Random(17);
        foreach (var (m, n, k) in Shapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    var shape = GemmShape.Dense(m, n, k, ta, tb);
                    double tol = DeviceData.Tolerance<T>(1e-6 * k, 1e-14 * k);
                    double accumulate = Run(ops, rng, shape, 0.5, 0.25, fillCWithNaN: false);
                    Assert.True(accumulate <= tol, $"{m}x{n}x{k} {ta}/{tb} alpha=0.5 beta=0.25: max error {accumulate:E2} > {tol:E1}");
                    double overwrite = Run(ops, rng, shape, 1.0, 0.0, fillCWithNaN: true);
                    Assert.True(overwrite <= tol, $"{m}x{n}x{k} {ta}/{tb} beta=0 (C must not be read): max error {overwrite:E2} > {tol:E1}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_RespectsLeadingDimensions_OnSubMatrices(string device, GemmAlgorithm algorithm, string dtype)
    {
        if (dtype == "float32")
            CheckStrided<float>(device, algorithm);
        else
            CheckStrided<double>(device, algorithm);
    }

    private static void CheckStrided<T>(string deviceName, GemmAlgorithm algorithm) where T : unmanaged
    {
        var ops = TestDevices.Get(deviceName, algorithm).Ops<T>();
        var rng = new Random(5);
        // A [5, 3] inside rows of 7, B^T [6, 3] inside rows of 4, C [5, 6] inside rows of 9.
        var shape = new GemmShape(5, 6, 3, Lda: 7, Ldb: 4, Ldc: 9, TransA: 0, TransB: 1);
        double err = Run(ops, rng, shape, 1.0, 1.0, fillCWithNaN: false);
        Assert.True(err <= DeviceData.Tolerance<T>(1e-6, 1e-14), $"strided GEMM error {err:E2}");
    }

    private static double Run<T>(IDeviceOps<T> ops, Random rng, GemmShape shape, double alpha, double beta, bool fillCWithNaN) where T : unmanaged
    {
        int aLen = shape.TransA != 0 ? shape.K * shape.Lda : shape.M * shape.Lda;
        int bLen = shape.TransB != 0 ? shape.N * shape.Ldb : shape.K * shape.Ldb;
        var a = DeviceData.AsSeen<T>(Numerics.Uniform(rng, aLen));
        var b = DeviceData.AsSeen<T>(Numerics.Uniform(rng, bLen));
        var c = DeviceData.AsSeen<T>(Numerics.Uniform(rng, shape.M * shape.Ldc));
        // Elements of C outside the M x N block (padding of Ldc) must be left alone.
        var expected = (double[])c.Clone();
        if (fillCWithNaN)
        {
            for (int i = 0; i < shape.M; i++)
            {
                for (int j = 0; j < shape.N; j++)
                    c[i * shape.Ldc + j] = double.NaN;
            }
        }

        using var da = DeviceData.Upload(ops, a);
        using var db = DeviceData.Upload(ops, b);
        using var dc = DeviceData.Upload(ops, c);
        ops.Gemm(shape, DeviceData.From<T>(alpha), da.All, db.All, DeviceData.From<T>(beta), dc.All);
        HostReference.Gemm(shape, alpha, a, b, beta, expected);
        return Numerics.MaxAbsError(DeviceData.Download(ops, dc), expected);
    }
}
