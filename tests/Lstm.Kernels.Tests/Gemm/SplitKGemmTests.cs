using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.OpenCL;
using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The accelerators split-K is checked on: ILGPU's CPU accelerator with 32-lane warps and groups
/// of 256 threads (both the Block64 partial and the tensor cores' emulated mma run there) and
/// the first OpenCL device when one is present.
/// </summary>
public sealed class SplitKAccelerators : IDisposable
{
    private readonly Context _context;

    public SplitKAccelerators()
    {
        _context = Context.Create(b => b.OpenCL().CPU().EnableAlgorithms().Math(MathMode.Default));
        Runners["ilgpu-cpu"] = new SplitKRunner(new CPUDevice(32, 8, 1).CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel));
        var cl = _context.GetCLDevices();
        if (cl.Count > 0)
            Runners["opencl:0"] = new SplitKRunner(cl[0].CreateCLAccelerator(_context));
    }

    /// <summary>By name: <c>ilgpu-cpu</c> and, when present, <c>opencl:0</c>.</summary>
    internal Dictionary<string, SplitKRunner> Runners { get; } = [];

    public void Dispose()
    {
        foreach (var runner in Runners.Values)
            runner.Dispose();
        _context.Dispose();
    }
}

/// <summary>Runs one split-K product (a partial kernel, then the reduction) on host arrays, as the ILGPU backend launches it.</summary>
internal sealed class SplitKRunner(Accelerator accelerator) : IDisposable
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int> _block64 =
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(SplitKGemmKernels.Block64Partial);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int, int, int, int> _rounded =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int, int, int, int>(SplitKGemmKernels.RoundedPartial);

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, GemmShape, int, float, float, int> _reduce =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, GemmShape, int, float, float, int>(SplitKGemmKernels.Reduce);

    private readonly Dictionary<GemmPrecision, Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>> _tensorCores = [];

    public bool IsCpu => accelerator is CPUAccelerator;

    /// <summary>True when the tensor-core partials run here (the emulated mma on the CPU accelerator).</summary>
    public bool TensorCores => TensorCoreGemmKernels.Supports(accelerator);

    /// <summary>C after split-K with slices of <paramref name="sliceK"/>, the partials by <paramref name="partial"/> (Block64, TensorCores or Rounded).</summary>
    public float[] Run(string partial, GemmPrecision precision, GemmShape shape, int sliceK, float alpha, float beta, float[] a, float[] b, float[] c)
    {
        int slices = SplitKGemmKernels.Slices(shape.K, sliceK);
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        // The workspace filled with NaN: every element a reduction reads must have been written.
        using var dw = accelerator.Allocate1D(Enumerable.Repeat(float.NaN, (int)((long)shape.M * shape.N * slices)).ToArray());
        var stream = accelerator.DefaultStream;
        int most = IsCpu ? accelerator.MaxNumThreadsPerGroup : 1 << 16;
        switch (partial)
        {
            case "Block64":
                _block64(stream, SplitKGemmKernels.Block64PartialConfig(shape, slices), da.View, db.View, dw.View, shape, sliceK);
                break;
            case "TensorCores":
                if (!_tensorCores.TryGetValue(precision, out var kernel))
                {
                    kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(
                        TensorCoreGemmKernels.PartialKernel((GemmRounding)precision));
                    _tensorCores[precision] = kernel;
                }

                kernel(stream, TensorCoreGemmKernels.PartialConfig(shape, slices), da.View, db.View, dw.View, shape, sliceK);
                break;
            case "Rounded":
                int threads = (int)Math.Min((long)shape.M * shape.N * slices, most);
                _rounded(stream, threads, da.View, db.View, dw.View, shape, (int)precision, sliceK, slices, threads);
                break;
            default:
                throw new ArgumentException(partial);
        }

        int reduceThreads = (int)Math.Min((long)shape.M * shape.N, most);
        _reduce(stream, reduceThreads, dw.View, dc.View, shape, slices, alpha, beta, reduceThreads);
        stream.Synchronize();
        return dc.GetAsArray1D();
    }

    public void Dispose() => accelerator.Dispose();
}

/// <summary>
/// Split-K (<see cref="SplitKGemmKernels"/>): K cut into slices, each slice's partial product by
/// a block kernel, the partials summed in slice order. On ILGPU's CPU accelerator every partial
/// kernel gives, bit for bit, the host twin: <see cref="PrecisionReference.Gemm"/> on each slice,
/// the slices added in order, then α and β; with one slice that is the unsplit product's bits.
/// Everywhere the result is within the precision's bound of the float64 product
/// (<see cref="GemmReference"/>), and two runs give the same bits. Sizes of 1, odd sizes and sizes
/// that are not multiples of the tiles, all four transposes, padded leading dimensions, α ≠ 1,
/// β of 0 (C filled with NaN: not read), 1 and 0.5, C's padding untouched; slices of K (one slice,
/// three, odd lengths, and more slices than K has tiles).
/// </summary>
public sealed class SplitKGemmTests(SplitKAccelerators fixture) : IClassFixture<SplitKAccelerators>
{
    // The CPU accelerator runs every lane as an OS thread and every barrier for real: few, small shapes.
    private static readonly (int M, int N, int K)[] CpuShapes = [(1, 1, 1), (7, 5, 33), (65, 66, 41), (2, 70, 40), (17, 3, 300)];

    // An emulated mma is 32 warp shuffles: the tensor-core partials get smaller shapes still (past one
    // 64-column block, past 16 rows, K past a k-tile and not a multiple of the k-step).
    private static readonly (int M, int N, int K)[] EmulatedShapes = [(1, 1, 1), (5, 70, 33), (17, 3, 50)];

    private static readonly (int M, int N, int K)[] OpenClShapes =
        [(1, 1, 1), (7, 5, 33), (33, 7, 65), (65, 66, 130), (17, 3, 300), (129, 130, 257), (3, 200, 777)];

    public static IEnumerable<object[]> CpuCases()
    {
        yield return ["Block64", GemmPrecision.Fp32];
        foreach (var p in PrecisionGemm.Precisions)
            yield return ["Rounded", p];
        foreach (var p in PrecisionGemm.Precisions.Where(p => p != GemmPrecision.Fp32))
            yield return ["TensorCores", p];
    }

    public static IEnumerable<object[]> OpenClCases()
    {
        yield return ["Block64", GemmPrecision.Fp32];
        foreach (var p in PrecisionGemm.Precisions)
            yield return ["Rounded", p];
    }

    /// <summary>The slice lengths tried for K: K itself (one slice), ⌈K/3⌉, 16 (more slices than K has 64-wide tiles) and 5 (odd, not a whole k-tile).</summary>
    private static IEnumerable<int> SliceLengths(int k) => new[] { k, (k + 2) / 3, 16, 5 }.Distinct();

    [Theory]
    [MemberData(nameof(CpuCases))]
    public void SplitK_OnCpu_EqualsTheSliceTwin_BitForBit_AndTheFloat64Product(string partial, GemmPrecision precision)
    {
        var runner = fixture.Runners["ilgpu-cpu"];
        if (partial == "TensorCores")
            Assert.True(runner.TensorCores, "the CPU accelerator with 32-lane warps runs the tensor-core kernels' emulated mma");
        var rng = new Random(41 + (int)precision);
        int cases = 0;
        float[] betas = [0f, 1f, 0.5f];
        var shapes = partial == "TensorCores" ? EmulatedShapes : CpuShapes;
        foreach (var (m, n, k) in shapes)
        {
            foreach (int sliceK in SliceLengths(k))
            {
                // One transpose combination and one β per slice length, in turn; all four over a shape's slice lengths.
                int t = cases % 4;
                var shape = Shape(m, n, k, t, cases);
                float beta = betas[cases % 3];
                var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                var before = beta == 0f ? PrecisionGemm.NaNBlock(shape, c) : c;
                string what = $"{partial} {precision} {m}x{n}x{k} slice {sliceK} transA={shape.TransA} transB={shape.TransB} beta={beta}";
                var got = runner.Run(partial, precision, shape, sliceK, 0.75f, beta, a, b, before);
                var twin = SliceTwin(precision, shape, sliceK, 0.75f, a, b, beta, before);
                int diff = PrecisionGemm.BitDifferences(shape, got, twin);
                Assert.True(diff == 0, $"{what}: {diff} elements differ from the slice twin");
                if (sliceK >= k)
                {
                    var whole = PrecisionGemm.Twin(precision, shape, 0.75f, a, b, beta, before);
                    Assert.True(PrecisionGemm.BitDifferences(shape, got, whole) == 0, $"{what}: one slice is not the unsplit product's bits");
                }

                CheckAgainstFloat64(what, precision, shape, sliceK, got, a, b, beta, before);
                cases++;
            }
        }

        Assert.True(cases >= 4 * shapes.Length - 4);
    }

    [SkippableTheory]
    [MemberData(nameof(OpenClCases))]
    public void SplitK_OnOpenCL_IsWithinTheFloat64Bound_AndTheSameOnEveryRun(string partial, GemmPrecision precision)
    {
        Skip.IfNot(fixture.Runners.TryGetValue("opencl:0", out var runner), TestDevices.NoneOfKind(Runtime.Devices.DeviceKind.OpenCL));
        var rng = new Random(43 + (int)precision);
        int cases = 0;
        foreach (var (m, n, k) in OpenClShapes)
        {
            foreach (int sliceK in SliceLengths(k))
            {
                {
                    // One transpose combination per slice length, in turn, as on the CPU accelerator.
                    var shape = Shape(m, n, k, cases % 4, cases);
                    float beta = (cases % 3) switch { 0 => 0f, 1 => 1f, _ => 0.5f };
                    var (a, b, c) = PrecisionGemm.Operands(rng, shape);
                    var before = beta == 0f ? PrecisionGemm.NaNBlock(shape, c) : c;
                    string what = $"{partial} {precision} {m}x{n}x{k} slice {sliceK} transA={shape.TransA} transB={shape.TransB} beta={beta}";
                    var got = runner.Run(partial, precision, shape, sliceK, 0.75f, beta, a, b, before);
                    var again = runner.Run(partial, precision, shape, sliceK, 0.75f, beta, a, b, before);
                    Assert.True(PrecisionGemm.BitDifferences(shape, got, again) == 0, $"{what}: two runs differ");
                    CheckAgainstFloat64(what, precision, shape, sliceK, got, a, b, beta, before);
                    cases++;
                }
            }
        }

        Assert.True(cases > 0);
    }

    [Fact]
    public void SliceLengths_CoverK_WithAlignedStarts()
    {
        foreach (int k in new[] { 1, 15, 16, 17, 255, 256, 1000, 6400, 100_003 })
        {
            foreach (int splits in new[] { 1, 2, 3, 7, 8, 64 })
            {
                int slice = SplitKGemmKernels.SliceK(k, splits);
                int s = SplitKGemmKernels.Slices(k, slice);
                Assert.True(slice % SplitKGemmKernels.SliceAlign == 0, $"K={k} S={splits}: slice {slice} is not aligned");
                Assert.True((long)s * slice >= k && (long)(s - 1) * slice < k, $"K={k} S={splits}: {s} slices of {slice} do not cover K exactly");
                Assert.InRange(s, 1, splits);
            }
        }
    }

    /// <summary>Dense operands for transpose combination t on even cases, padded leading dimensions on odd ones.</summary>
    private static GemmShape Shape(int m, int n, int k, int t, int cases)
    {
        bool ta = (t & 1) != 0, tb = (t & 2) != 0;
        int pad = cases % 2 == 0 ? 0 : 3;
        return new GemmShape(m, n, k, (ta ? m : k) + pad, (tb ? k : n) + pad, n + pad, ta ? 1 : 0, tb ? 1 : 0);
    }

    /// <summary>The host twin: each slice by <see cref="PrecisionReference.Gemm"/> into its own [M, N], the slices added in order, then α and β.</summary>
    private static float[] SliceTwin(GemmPrecision precision, GemmShape s, int sliceK, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        int slices = SplitKGemmKernels.Slices(s.K, sliceK);
        var partials = new float[slices][];
        for (int q = 0; q < slices; q++)
        {
            int k0 = q * sliceK;
            var part = new GemmShape(s.M, s.N, Math.Min(sliceK, s.K - k0), s.Lda, s.Ldb, s.N, s.TransA, s.TransB);
            partials[q] = new float[s.M * s.N];
            PrecisionReference.Gemm(
                precision, part, 1f, a.AsSpan(s.TransA != 0 ? k0 * s.Lda : k0), b.AsSpan(s.TransB != 0 ? k0 : k0 * s.Ldb), 0f, partials[q]);
        }

        var r = (float[])c.Clone();
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
            {
                float acc = partials[0][i * s.N + j];
                for (int q = 1; q < slices; q++)
                    acc += partials[q][i * s.N + j];
                int idx = i * s.Ldc + j;
                r[idx] = PrecisionGemmKernels.Scale(acc, alpha, beta, beta == 0f ? 0f : r[idx]);
            }
        }

        return r;
    }

    /// <summary>Within the precision's bound (one float32 rounding more per slice) of the float64 product, and C's padding untouched.</summary>
    private static void CheckAgainstFloat64(string what, GemmPrecision precision, GemmShape s, int sliceK, float[] got, float[] a, float[] b, float beta, float[] before)
    {
        var (exact, scale) = PrecisionGemm.Float64(s, 0.75f, a, b, beta, before);
        double err = PrecisionGemm.MaxScaledError(s, got, exact, scale);
        double bound = PrecisionGemm.Bound(precision, s.K + SplitKGemmKernels.Slices(s.K, sliceK));
        Assert.True(err <= bound, $"{what}: scaled error {err:E2} from the float64 product, bound {bound:E2}");
        Assert.True(PrecisionGemm.PaddingKept(s, got, before), $"{what}: C's padding was written");
    }
}
