using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The host backend's GEMM at shapes that reach every edge of its blocking: sizes of 1, odd
/// sizes, sizes that are not multiples of the register block (6 rows × 2 panels of 2 vectors of
/// columns) or of the vector width, K larger than one K block (256), M larger than one packed A
/// block, N larger than one packed B block, products large enough to be split across cores, and
/// the few-row path (at most 96 rows) whose packed op(B) is cached across calls.
/// </summary>
public class CpuGemmTests
{
    public static readonly (int M, int N, int K)[] EdgeShapes =
    [
        (1, 1, 1), (1, 33, 1), (7, 1, 5), (2, 17, 9), (6, 32, 256), (5, 80, 20), (7, 33, 257),
        (13, 65, 300), (3, 19, 600), (260, 5, 3), (515, 3, 4), (2, 4100, 3),
        (130, 250, 140), (40, 1000, 120), (1, 1030, 257), (5, 301, 130),
        // K at and past whole K blocks: two blocks exactly, one element past them, several blocks and a tail.
        (6, 32, 512), (7, 33, 513), (9, 70, 1030), (131, 45, 1100),
        // More rows than one A block and more K than one K block at once: an A read in place
        // starts each block at its row and K offset.
        (517, 70, 300),
        // Few rows (op(B) packed once and cached): every row count of a register block, an odd
        // number of column panels, K over several K blocks, the last few-row size and the first past it.
        (4, 97, 513), (11, 160, 129), (2, 64, 1), (3, 95, 64), (96, 70, 260), (97, 70, 260), (64, 129, 300),
        // Few rows but deeper than the few-row path takes (a tiny layer's weight gradient over many steps).
        (3, 5, 16385),
    ];

    public static IEnumerable<object[]> Types() => [["float32"], ["float64"]];

    [Theory]
    [MemberData(nameof(Types))]
    public void Gemm_MatchesFloat64Reference_AtBlockEdges_EveryTransposeAndBeta(string dtype)
    {
        if (dtype == "float32")
            CheckEdges<float>();
        else
            CheckEdges<double>();
    }

    private static void CheckEdges<T>() where T : unmanaged
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<T>();
        var rng = new Random(29);
        foreach (var (m, n, k) in EdgeShapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    double tol = DeviceData.Tolerance<T>(1e-6 * k, 1e-14 * k);
                    foreach (var (alpha, beta) in new[] { (1.0, 0.0), (0.5, 1.0), (-1.5, 0.25) })
                    {
                        // Padded leading dimensions: every row of A, B and C is longer than the product uses.
                        var shape = new GemmShape(m, n, k, (ta ? m : k) + 3, (tb ? k : n) + 1, n + 2, ta ? 1 : 0, tb ? 1 : 0);
                        double err = Run(ops, rng, shape, alpha, beta);
                        Assert.True(err <= tol, $"{m}x{n}x{k} {(ta ? "T" : "N")}{(tb ? "T" : "N")} alpha={alpha} beta={beta}: max error {err:E2} > {tol:E1}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Gemm_WithKZero_ScalesC(string dtype)
    {
        if (dtype == "float32")
            CheckEmptyProduct<float>();
        else
            CheckEmptyProduct<double>();
    }

    private static void CheckEmptyProduct<T>() where T : unmanaged
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<T>();
        var rng = new Random(3);
        var shape = new GemmShape(3, 4, 0, 1, 4, 5, 0, 0);
        foreach (double beta in new[] { 0.0, 1.0, 0.5 })
        {
            double err = Run(ops, rng, shape, 1.0, beta);
            Assert.True(err <= DeviceData.Tolerance<T>(1e-7, 1e-15), $"K=0 beta={beta}: max error {err:E2}");
        }
    }

    [Fact]
    public void Gemm_FromSeveralThreadsAtOnce_EachGetsItsOwnResult()
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<double>();
        var errors = new double[8];
        Parallel.For(0, errors.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var rng = new Random(100 + i);
            // Even threads take the blocked path, odd ones the few-row path (op(B) packed once, cached).
            var shape = i % 2 == 0 ? GemmShape.Dense(70 + i, 45, 300, false, false) : GemmShape.Dense(5 + i, 90, 70, false, true);
            for (int rep = 0; rep < 5; rep++)
                errors[i] = Math.Max(errors[i], Run(ops, rng, shape, 1.0, 0.0));
        });
        Assert.All(errors, e => Assert.True(e <= 1e-12, $"max error {e:E2}"));
    }

    public static IEnumerable<object[]> SliceShapes() =>
    [
        [1, 300, 70], [5, 33, 600], [17, 100, 40], [200, 70, 300],
    ];

    [Theory]
    [MemberData(nameof(SliceShapes))]
    public void Gemm_OnSlicesAtOffsets_ReadsAndWritesOnlyTheirElements(int m, int n, int k)
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<double>();
        var rng = new Random(m * 1000 + n);
        foreach (bool ta in new[] { false, true })
        {
            foreach (bool tb in new[] { false, true })
            {
                // Sub-matrices of larger matrices: leading dimensions past the rows, slices that start inside their buffers.
                var shape = new GemmShape(m, n, k, (ta ? m : k) + 5, (tb ? k : n) + 3, n + 4, ta ? 1 : 0, tb ? 1 : 0);
                int aLen = (ta ? k : m) * shape.Lda, bLen = (tb ? n : k) * shape.Ldb, cLen = m * shape.Ldc;
                const int offA = 7, offB = 13, offC = 9, tail = 11;
                var a = Numerics.Uniform(rng, offA + aLen + tail);
                var b = Numerics.Uniform(rng, offB + bLen + tail);
                var c = Numerics.Uniform(rng, offC + cLen + tail);
                var expected = (double[])c.Clone();
                GemmReference.Gemm(shape, 0.75, a.AsSpan(offA, aLen), b.AsSpan(offB, bLen), -0.5, expected.AsSpan(offC, cLen));
                using var da = DeviceData.Upload(ops, a);
                using var db = DeviceData.Upload(ops, b);
                using var dc = DeviceData.Upload(ops, c);
                // Three times: a few-row product packs op(B) into scratch on first sight, into the
                // cache on the second, and reads the cache on the third.
                for (int rep = 0; rep < 3; rep++)
                {
                    ops.Upload(c, dc.All);
                    ops.Gemm(shape, 0.75, da.Slice(offA, aLen), db.Slice(offB, bLen), -0.5, dc.Slice(offC, cLen));
                    double err = Numerics.MaxAbsError(DeviceData.Download(ops, dc), expected);
                    Assert.True(err <= 1e-12 * k, $"{m}x{n}x{k} {(ta ? "T" : "N")}{(tb ? "T" : "N")} repeat {rep}: max error {err:E2}");
                }
            }
        }
    }

    [Fact]
    public void Gemm_OperandTooShort_ThrowsNamingTheOperand()
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<float>();
        using var a = ops.Allocate(6);
        using var b = ops.Allocate(5);
        using var c = ops.Allocate(4);
        var e = Assert.Throws<LstmException>(() => ops.Gemm(GemmShape.Dense(2, 2, 3, false, false), 1f, a.All, b.All, 0f, c.All));
        Assert.Contains("B has 5 elements", e.Message, StringComparison.Ordinal);
    }

    private static double Run<T>(IDeviceOps<T> ops, Random rng, GemmShape shape, double alpha, double beta) where T : unmanaged
    {
        int aLen = shape.TransA != 0 ? shape.K * shape.Lda : shape.M * shape.Lda;
        int bLen = shape.TransB != 0 ? shape.N * shape.Ldb : shape.K * shape.Ldb;
        var a = DeviceData.AsSeen<T>(Numerics.Uniform(rng, Math.Max(aLen, 1)));
        var b = DeviceData.AsSeen<T>(Numerics.Uniform(rng, Math.Max(bLen, 1)));
        var c = DeviceData.AsSeen<T>(Numerics.Uniform(rng, shape.M * shape.Ldc));
        var expected = (double[])c.Clone();
        if (beta == 0)
        {
            // β = 0 must not read C: NaNs there must not reach the result.
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
        // Padding columns of C (past N in each row) must be left as they were.
        return Numerics.MaxAbsError(DeviceData.Download(ops, dc), expected);
    }
}
