using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The tensor-core GEMMs: their PTX carries the mma instructions for sm_80 and sm_90 (PTX ISA 7.8),
/// and their emulated-mma path, run on an ILGPU CPU accelerator with 32-lane warps, computes
/// exactly what the host reference computes (tile staging, fragment loads, the lane maps,
/// edges, transposes, α/β). On a CUDA device they are checked against float64 within the
/// precision's tolerance.
/// </summary>
public sealed class TensorCoreGemmKernelTests(ITestOutputHelper output, PrecisionAccelerators accelerators) : IDisposable, IClassFixture<PrecisionAccelerators>
{
    private readonly Context _context = Context.Create(b => b.EnableAlgorithms());

    // Every simulated lane is an OS thread (128 a group) and an emulated mma is 32 warp shuffles,
    // so the shapes are small: sizes of 1, N past one 64-column block (and past 32, the second
    // warp column), M past one 64-row block (and past 16 and 32), K past one k-tile of 16 and
    // not a multiple of the k-step of 8.
    public static readonly (int M, int N, int K)[] EmulatedShapes = [(1, 1, 1), (5, 70, 17), (70, 9, 20)];

    public static IEnumerable<object[]> ReducedPrecisions() =>
        [[GemmPrecision.Tf32], [GemmPrecision.ThreeTf32], [GemmPrecision.Bf16]];

    [Theory]
    [MemberData(nameof(ReducedPrecisions))]
    public void EmulatedMma_OnCpu32_EqualsHostTwinBitForBit_EveryTransposeAndBeta(GemmPrecision precision)
    {
        var accelerator = accelerators.Get("ilgpu-cpu32");
        Assert.True(TensorCoreGemmKernels.Supports(accelerator));
        var rng = new Random(11);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (m, n, k) in EmulatedShapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    // Padded leading dimensions: rows of A, B and C longer than the product uses.
                    var dense = GemmShape.Dense(m, n, k, ta, tb);
                    var shape = dense with { Lda = dense.Lda + 3, Ldb = dense.Ldb + 1, Ldc = dense.Ldc + 2 };
                    var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                    // β = 0 (C filled with NaN, not to be read) with A as stored, β ≠ 0 with A transposed.
                    var (alpha, beta) = ta ? (-0.5f, 0.75f) : (1f, 0f);
                    var before = beta == 0 ? PrecisionGemm.NaNBlock(shape, c) : c;
                    var got = PrecisionGemm.RunTensorCore(accelerator, precision, shape, alpha, a, b, beta, before);
                    var twin = PrecisionGemm.Twin(precision, shape, alpha, a, b, beta, before);
                    int diff = PrecisionGemm.BitDifferences(shape, got, twin);
                    Assert.True(diff == 0, $"{precision} {m}x{n}x{k} {ta}/{tb} α={alpha} β={beta}: {diff} elements differ from the host twin");
                    Assert.True(PrecisionGemm.PaddingKept(shape, got, before), $"{precision} {m}x{n}x{k}: C's padding was written");
                }
            }
        }

        output.WriteLine($"{precision}: {EmulatedShapes.Length * 4} launches on ilgpu-cpu32 in {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// On each CUDA device present (none in CI): every reduced precision against float64 within its
    /// bound, with room for the tensor cores' own summation (PTX does not specify its order or
    /// rounding inside one mma: allowed one more float32 rounding per product), at sizes past every
    /// block edge and at a size of several blocks, every transpose.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(ReducedPrecisions))]
    public void TensorCores_OnCuda_AreWithinThePrecisionsBoundOfFloat64(GemmPrecision precision)
    {
        var devices = accelerators.Names().Where(n => n.StartsWith("cuda:", StringComparison.Ordinal)).ToList();
        Skip.If(devices.Count == 0, "no CUDA device on this machine");
        foreach (string device in devices)
        {
            var accelerator = accelerators.Get(device);
            Skip.IfNot(TensorCoreGemmKernels.Supports(accelerator), $"{device}: compute capability below 8.0");
            var rng = new Random(31);
            double worst = 0;
            foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 33, 100), (100, 7, 33), (33, 100, 7), (100, 100, 100), (257, 300, 129) })
            {
                foreach (bool ta in new[] { false, true })
                {
                    foreach (bool tb in new[] { false, true })
                    {
                        var shape = GemmShape.Dense(m, n, k, ta, tb);
                        var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                        var (alpha, beta) = tb ? (0.5f, -1.25f) : (1f, 0f);
                        var before = beta == 0 ? PrecisionGemm.NaNBlock(shape, c) : c;
                        var got = PrecisionGemm.RunTensorCore(accelerator, precision, shape, alpha, a, b, beta, before);
                        var (exact, scale) = PrecisionGemm.Float64(shape, alpha, a, b, beta, before);
                        double e = PrecisionGemm.MaxScaledError(shape, got, exact, scale);
                        double bound = PrecisionGemm.Bound(precision, 2 * k);
                        Assert.True(e <= bound, $"{device} {precision} {m}x{n}x{k} {ta}/{tb}: {e:E2} of Σ|a·b| from float64 > {bound:E2}");
                        worst = Math.Max(worst, e);
                    }
                }
            }

            output.WriteLine($"{device} {precision}: max error {worst:E2} of Σ_k|a·b|");
        }
    }

    public static IEnumerable<object[]> KernelsAndArchitectures()
    {
        foreach (string kernel in new[] { nameof(TensorCoreGemmKernels.Tf32), nameof(TensorCoreGemmKernels.ThreeTf32), nameof(TensorCoreGemmKernels.Bf16) })
        {
            yield return [kernel, 80];
            yield return [kernel, 90];
        }
    }

    [Theory]
    [MemberData(nameof(KernelsAndArchitectures))]
    public void Kernel_EmitsMmaSync_InPtx78(string kernel, int sm)
    {
        var arch = sm == 80 ? CudaArchitecture.SM_80 : CudaArchitecture.SM_90;
        using var backend = new PTXBackend(_context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, null);
        var method = typeof(TensorCoreGemmKernels).GetMethod(kernel)!;
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), default);
        string ptx = compiled.PTXAssembly;
        string dump = Environment.GetEnvironmentVariable("LSTM_PTX_DUMP") ?? "";
        if (dump.Length > 0)
            File.WriteAllText(Path.Combine(dump, $"{kernel}_sm{sm}.ptx"), ptx);
        string mma = kernel == nameof(TensorCoreGemmKernels.Bf16)
            ? "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
            : "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32";
        int count = ptx.Split(mma).Length - 1;
        output.WriteLine($"{kernel} sm_{sm}: {count} × {mma}, {ptx.Length} characters of PTX");
        // 8 mma tiles per warp and k-step, three mma each for 3xTF32.
        Assert.Equal(kernel == nameof(TensorCoreGemmKernels.ThreeTf32) ? 24 : 8, count);
        // The accumulators are PTX registers declared once, outside the k-loop.
        Assert.Single(ptx.Split(".reg .f32 lstm_acc<32>;").Skip(1));
        // ILGPU 1.5.3 caps .target at sm_80 (an sm_90 device JIT-compiles it).
        Assert.Contains(".target sm_80", ptx, StringComparison.Ordinal);
        Assert.Contains(".version 7.8", ptx, StringComparison.Ordinal);
    }

    public void Dispose() => _context.Dispose();
}
