using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// <see cref="PrecisionGemmKernels.RowDot"/>, the portable reduced-precision GEMM: equal to its
/// host twin (<c>PrecisionReference.Gemm</c>) on every device present, and, through the twin, as
/// accurate against float64 as each precision promises.
/// </summary>
public sealed class PrecisionGemmKernelTests(ITestOutputHelper output, PrecisionAccelerators accelerators) : IClassFixture<PrecisionAccelerators>
{
    // Sizes of 1, odd sizes, and sizes past the tensor-core kernels' 64-wide blocks and 16-deep k-tiles.
    private static readonly int[] Sizes = [1, 7, 33, 100];

    public static IEnumerable<object[]> DevicesAndPrecisions()
    {
        using var probe = new PrecisionAccelerators();
        foreach (string device in probe.Names().Where(n => n != "ilgpu-cpu32"))
        {
            foreach (var p in PrecisionGemm.Precisions)
                yield return [device, p];
        }
    }

    public static IEnumerable<object[]> AllPrecisions() => PrecisionGemm.Precisions.Select(p => new object[] { p });

    [Theory]
    [MemberData(nameof(DevicesAndPrecisions))]
    public void RowDot_EqualsHostTwin_EveryShapeTransposeAndBeta(string device, GemmPrecision precision)
    {
        var accelerator = accelerators.Get(device);
        bool cpu = device.StartsWith("ilgpu-cpu", StringComparison.Ordinal);
        var rng = new Random(19);
        int launches = 0, inexact = 0;
        double worst = 0;
        foreach (int m in Sizes)
        {
            foreach (int n in Sizes)
            {
                foreach (int k in Sizes)
                {
                    // Transposes and β cycle with the shape; leading dimensions padded on every other shape.
                    int variant = launches++;
                    var dense = GemmShape.Dense(m, n, k, (variant & 1) != 0, (variant & 2) != 0);
                    var shape = (variant & 4) != 0 ? dense with { Lda = dense.Lda + 2, Ldb = dense.Ldb + 3, Ldc = dense.Ldc + 1 } : dense;
                    var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                    var (alpha, beta) = (variant & 8) != 0 ? (0.5f, -1.25f) : (1f, 0f);
                    var before = beta == 0 ? PrecisionGemm.NaNBlock(shape, c) : c;
                    var got = PrecisionGemm.RunRowDot(accelerator, precision, shape, alpha, a, b, beta, before);
                    var twin = PrecisionGemm.Twin(precision, shape, alpha, a, b, beta, before);
                    Assert.True(PrecisionGemm.PaddingKept(shape, got, before), $"{m}x{n}x{k}: C's padding was written");
                    int diff = PrecisionGemm.BitDifferences(shape, got, twin);
                    if (cpu)
                    {
                        // The same float32 operations in the same order as the twin: the same bits.
                        Assert.True(diff == 0, $"{precision} {m}x{n}x{k} {shape}: {diff} elements differ from the host twin");
                        continue;
                    }

                    // A GPU or OpenCL compiler may fuse an FP32 product into its sum: within the
                    // accumulation error of the twin (reduced-precision products are exact, so they
                    // are expected to match bit for bit; the count is printed).
                    inexact += diff;
                    var (exact, scale) = PrecisionGemm.Float64(shape, alpha, a, b, beta, before);
                    double e = PrecisionGemm.MaxScaledError(shape, got, twin.Select(v => (double)v).ToArray(), scale);
                    worst = Math.Max(worst, e);
                    Assert.True(e <= 2e-6, $"{precision} {m}x{n}x{k}: {e:E2} from the host twin");
                    Assert.True(PrecisionGemm.MaxScaledError(shape, got, exact, scale) <= PrecisionGemm.Bound(precision, k));
                }
            }
        }

        output.WriteLine($"{device} {precision}: {launches} shapes; {(cpu ? "bit for bit" : $"{inexact} elements not bit-equal, max {worst:E2} of Σ|a·b| from the twin")}");
    }

    [Theory]
    [MemberData(nameof(AllPrecisions))]
    public void Accuracy_AgainstFloat64_IsWithinThePrecisionsBound(GemmPrecision precision)
    {
        var rng = new Random(23);
        double worst = 0, worstRelative = 0, worstOfBound = 0;
        foreach (int m in Sizes)
        {
            foreach (int n in Sizes)
            {
                foreach (int k in Sizes)
                {
                    var shape = GemmShape.Dense(m, n, k, false, false);
                    var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                    var got = PrecisionGemm.Twin(precision, shape, 1f, a, b, 0f, c);
                    var (exact, scale) = PrecisionGemm.Float64(shape, 1f, a, b, 0f, c);
                    double e = PrecisionGemm.MaxScaledError(shape, got, exact, scale);
                    Assert.True(e <= PrecisionGemm.Bound(precision, k), $"{precision} {m}x{n}x{k}: {e:E2} > {PrecisionGemm.Bound(precision, k):E2}");
                    worst = Math.Max(worst, e);
                    worstOfBound = Math.Max(worstOfBound, e / PrecisionGemm.Bound(precision, k));
                    double largest = exact.Take(m * n).Max(Math.Abs);
                    worstRelative = Math.Max(worstRelative, Lstm.Tests.Shared.Numerics.MaxAbsError(got.Take(m * n).Select(v => (double)v).ToArray(), exact.Take(m * n).ToArray()) / largest);
                }
            }
        }

        output.WriteLine($"{precision,-9}: max error {worst:E2} of Σ_k|a·b| ({worstOfBound:P0} of the bound at its K, {PrecisionGemm.Bound(precision, 1):E2} to {PrecisionGemm.Bound(precision, 100):E2}); {worstRelative:E2} of max|C|; M, N, K in {{{string.Join(", ", Sizes)}}}");
    }
}
