using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Gemm;

public class GemmKernelTests
{
    // Sizes of 1, odd sizes and sizes that are not multiples of either tile edge (4 on the CPU
    // accelerator, 16 on GPUs), and the LSTM's recurrent shape [B, H] x [H, 4H].
    public static readonly (int M, int N, int K)[] Shapes =
        [(1, 1, 1), (1, 5, 3), (4, 4, 4), (5, 7, 3), (3, 1, 17), (17, 9, 33), (5, 80, 20)];

    private static readonly GemmAlgorithm[] AllIlgpu =
        [GemmAlgorithm.Tiled, GemmAlgorithm.RowDot, GemmAlgorithm.Blocked, GemmAlgorithm.Blocked128, GemmAlgorithm.Blocked64, GemmAlgorithm.FewRow];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            // The host backend has one GEMM of its own; ILGPU devices run Tiled and RowDot, and
            // those whose groups hold 256 threads (not ilgpu-cpu's 16) the FP32 family too
            // (float64 runs Tiled in its place).
            var algorithms = (string)device[0] switch
            {
                "cpu" => new[] { GemmAlgorithm.Packed },
                "ilgpu-cpu" => new[] { GemmAlgorithm.Tiled, GemmAlgorithm.RowDot },
                _ => AllIlgpu,
            };
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

    /// <summary>
    /// On CUDA and OpenCL devices every float32 GEMM kernel gives the same bits for the same
    /// product (each sums k in order as a·b + acc): what lets the dispatch pick a kernel per
    /// shape without breaking the row-subset and wavefront contracts. On CUDA this checks that
    /// ptxas contracted every kernel's multiply-adds alike; on OpenCL, the OpenCL C compiler.
    /// </summary>
    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void Gemm_EveryKernel_GivesTheSameBits(DeviceKind kind)
    {
        var devices = TestDevices.OfKindOrSkip(kind);
        foreach (var device in devices)
            EveryKernel_GivesTheSameBits(device.Name);
    }

    private static void EveryKernel_GivesTheSameBits(string deviceName)
    {
        var rng = new Random(41);
        (int M, int N, int K)[] shapes = [(1, 1, 1), (3, 80, 20), (16, 200, 64), (17, 9, 33), (130, 129, 65), (200, 64, 40)];
        foreach (var (m, n, k) in shapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    var shape = GemmShape.Dense(m, n, k, ta, tb);
                    float[] a = Numerics.Uniform(rng, m * k).Select(v => (float)v).ToArray();
                    float[] b = Numerics.Uniform(rng, k * n).Select(v => (float)v).ToArray();
                    float[] c = Numerics.Uniform(rng, m * n).Select(v => (float)v).ToArray();
                    float[]? first = null;
                    foreach (var algorithm in AllIlgpu)
                    {
                        var result = DeviceGemm.Run(TestDevices.Get(deviceName, algorithm).Ops<float>(), shape, 0.75f, a, b, 0.5f, c);
                        first ??= result;
                        for (int i = 0; i < result.Length; i++)
                        {
                            Assert.True(
                                BitConverter.SingleToInt32Bits(result[i]) == BitConverter.SingleToInt32Bits(first[i]),
                                $"{m}x{n}x{k} {ta}/{tb}: {algorithm} gives {result[i]:R} at {i}, {AllIlgpu[0]} {first[i]:R}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void FewRowAndBlockedKernels_NeedBigGroups_IlgpuCpuSaysSo()
    {
        foreach (var algorithm in new[] { GemmAlgorithm.Blocked128, GemmAlgorithm.Blocked64, GemmAlgorithm.FewRow })
        {
            var e = Assert.Throws<LstmException>(() => ComputeDevice.Open("ilgpu-cpu", algorithm));
            Assert.Contains("groups of", e.Message, StringComparison.Ordinal);
        }

        // Blocked is a choice per product: on groups too small for the family it runs Tiled.
        using var device = ComputeDevice.Open("ilgpu-cpu", GemmAlgorithm.Blocked);
        Assert.Equal(GemmAlgorithm.Tiled, device.GemmKernelFor(GemmShape.Dense(256, 256, 256, false, true)));
    }

    [Fact]
    public void BlockedDispatch_FollowsItsRule()
    {
        // M ≤ 16: few-row; else 128×128 tiles when they are at least the multiprocessors, else 64×64.
        var few = GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(16, 4096, 1024, false, true));
        Assert.Equal(GemmAlgorithm.FewRow, few);
        Assert.Equal(GemmAlgorithm.Blocked64, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(17, 4096, 1024, false, true)));
        Assert.Equal(GemmAlgorithm.Blocked128, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(3200, 4096, 512, false, true)));
        Assert.Equal(GemmAlgorithm.Blocked64, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(1000, 1024, 512, false, true)));
        Assert.Equal(GemmAlgorithm.Blocked128, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 2, 4096, GemmShape.Dense(129, 17, 5, false, false)));
        // float64 and small groups: Tiled; explicit kernels are kept in float32.
        Assert.Equal(GemmAlgorithm.Tiled, GemmDispatch.Choose(GemmAlgorithm.Blocked, false, 132, 1024, GemmShape.Dense(3200, 4096, 512, false, true)));
        Assert.Equal(GemmAlgorithm.Tiled, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 128, GemmShape.Dense(3200, 4096, 512, false, true)));
        Assert.Equal(GemmAlgorithm.Tiled, GemmDispatch.Choose(GemmAlgorithm.FewRow, false, 132, 1024, GemmShape.Dense(4, 4, 4, false, false)));
        Assert.Equal(GemmAlgorithm.FewRow, GemmDispatch.Choose(GemmAlgorithm.FewRow, true, 132, 1024, GemmShape.Dense(400, 4, 4, false, false)));
        Assert.Equal(GemmAlgorithm.RowDot, GemmDispatch.Choose(GemmAlgorithm.RowDot, true, 132, 1024, GemmShape.Dense(400, 4, 4, false, false)));
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
        GemmReference.Gemm(shape, alpha, a, b, beta, expected);
        return Numerics.MaxAbsError(DeviceData.Download(ops, dc), expected);
    }
}
