using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.OpenCL;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The accelerators the FP32 GEMM family is checked on, opened once for the test class: ILGPU's
/// CPU accelerator with groups of 256 threads (the project opens it with 16, too few for these
/// kernels) and the first OpenCL device when one is present. Each has every GEMM kernel loaded.
/// </summary>
public sealed class BlockedGemmAccelerators : IDisposable
{
    private readonly Context _context;

    public BlockedGemmAccelerators()
    {
        _context = Context.Create(b => b.OpenCL().CPU().EnableAlgorithms().Math(MathMode.Default));
        // 32 lanes × 8 warps: groups of 256 threads, one group at a time (every lane is an OS thread).
        Runners["ilgpu-cpu"] = new GemmRunner(new CPUDevice(32, 8, 1).CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel), isCpu: true);
        var cl = _context.GetCLDevices();
        if (cl.Count > 0)
            Runners["opencl:0"] = new GemmRunner(cl[0].CreateCLAccelerator(_context), isCpu: false);
    }

    /// <summary>By name: <c>ilgpu-cpu</c> and, when present, <c>opencl:0</c>.</summary>
    internal Dictionary<string, GemmRunner> Runners { get; } = [];

    public void Dispose()
    {
        foreach (var runner in Runners.Values)
            runner.Dispose();
        _context.Dispose();
    }
}

/// <summary>One accelerator with RowDot and the FP32 family loaded; runs one product on host arrays.</summary>
internal sealed class GemmRunner(Accelerator accelerator, bool isCpu) : IDisposable
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int> _rowDot =
        accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int>(GemmKernels.RowDot<float, F32Ops>);

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float> _block128 =
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(
            BlockedGemmKernels.Block128, new KernelSpecialization(BlockedGemmKernels.BlockGroupSize, 2));

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float> _block64 =
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(BlockedGemmKernels.Block64);

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>> _fewRow =
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, SpecializedValue<int>>(BlockedGemmKernels.FewRow);

    /// <summary>C after C = α·op(A)·op(B) + β·C with the named kernel (RowDot, Block128, Block64, FewRow).</summary>
    public float[] Run(string kernel, GemmShape shape, float alpha, float beta, float[] a, float[] b, float[] c)
    {
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        var stream = accelerator.DefaultStream;
        switch (kernel)
        {
            case "RowDot":
                int threads = isCpu ? Math.Min(shape.M * shape.N, accelerator.MaxNumThreadsPerGroup) : shape.M * shape.N;
                _rowDot(stream, threads, da.View, db.View, dc.View, shape, alpha, beta, threads);
                break;
            case "Block128":
                _block128(stream, BlockedGemmKernels.Block128Config(shape), da.View, db.View, dc.View, shape, alpha, beta);
                break;
            case "Block64":
                _block64(stream, BlockedGemmKernels.Block64Config(shape), da.View, db.View, dc.View, shape, alpha, beta);
                break;
            case "FewRow":
                var (slices, rows) = BlockedGemmKernels.FewRowLayout(shape.M);
                _fewRow(stream, BlockedGemmKernels.FewRowConfig(shape, slices, rows), da.View, db.View, dc.View, shape, alpha, beta, slices, SpecializedValue.New(rows));
                break;
            default:
                throw new ArgumentException(kernel);
        }

        stream.Synchronize();
        return dc.GetAsArray1D();
    }

    public void Dispose() => accelerator.Dispose();
}

/// <summary>
/// The FP32 GEMM family (<see cref="BlockedGemmKernels"/>) gives, bit for bit, what
/// <see cref="GemmKernels.RowDot{T, TOps}"/> gives on the same accelerator (every output summed
/// over k in order), on ILGPU's CPU accelerator and on the OpenCL device when present: sizes of 1,
/// odd sizes and sizes that are not multiples of the tiles, K that are and are not whole slabs
/// (multiples of 8), all four transpose combinations,
/// leading dimensions larger than the matrices, α ≠ 1 and β of 0 (C filled with NaN: not read),
/// 1 and 0.5, elements of C past N untouched; and it is within float32 rounding of a float64
/// product computed on the host.
/// </summary>
public sealed class BlockedGemmTests(BlockedGemmAccelerators fixture) : IClassFixture<BlockedGemmAccelerators>
{
    private static readonly string[] Kernels = ["Block128", "Block64", "FewRow"];

    /// <summary>Sizes for OpenCL: every combination of M, N in {1, 7, 33, 65, 129, 130} and K in those, 8 and 64 (whole slabs).</summary>
    private static readonly int[] Sizes = [1, 7, 33, 65, 129, 130];

    private static readonly int[] KSizes = [1, 7, 8, 33, 64, 65, 129, 130];

    /// <summary>
    /// Sizes for the CPU accelerator, where every lane is an OS thread and every barrier a real
    /// one: few, small, but each edge case (1, odd, past one tile, several tiles) in some dimension.
    /// </summary>
    private static readonly (int M, int N, int K)[] CpuShapes =
        [
            (1, 1, 1), (1, 7, 33), (7, 1, 65), (7, 33, 9), (33, 7, 65), (16, 130, 33), (17, 130, 3), (130, 5, 17),
            (65, 66, 33), (2, 129, 40), (129, 130, 65), (130, 129, 130), (65, 1, 129), (1, 65, 130), (33, 130, 16),
        ];

    public static IEnumerable<object[]> Cases()
    {
        foreach (string device in new[] { "ilgpu-cpu", "opencl:0" })
        {
            foreach (string kernel in Kernels)
                yield return [device, kernel];
        }
    }

    private IEnumerable<(int M, int N, int K)> ShapesFor(string device) =>
        device == "ilgpu-cpu" ? CpuShapes : from m in Sizes from n in Sizes from k in KSizes select (m, n, k);

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Kernel_EqualsRowDot_Bitwise_AndTheFloat64Product(string device, string kernel)
    {
        Skip.IfNot(fixture.Runners.TryGetValue(device, out var runner), TestDevices.NoneOfKind(Runtime.Devices.DeviceKind.OpenCL));
        var rng = new Random(23);
        int cases = 0;
        float[] betas = [0f, 1f, 0.5f];
        foreach (var (m, n, k) in ShapesFor(device))
        {
            for (int t = 0; t < 4; t++)
            {
                bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                // Dense on even cases, padded leading dimensions on odd ones.
                int pad = (m + n + k + t) % 2 == 0 ? 0 : 3;
                var shape = new GemmShape(m, n, k, (ta ? m : k) + pad, (tb ? k : n) + pad, n + pad, ta ? 1 : 0, tb ? 1 : 0);
                // On OpenCL every β for every shape; on the CPU accelerator one β per shape and transpose, in turn.
                float[] shapeBetas = device == "ilgpu-cpu" ? [betas[cases % 3]] : betas;
                foreach (float beta in shapeBetas)
                {
                    Check(runner, kernel, shape, 0.75f, beta, rng);
                    cases++;
                }
            }
        }

        Assert.True(cases > 0);
    }

    /// <summary>
    /// Every product a·b is a negative number too small for float32: where the multiply-add is
    /// fused (FFMA on a GPU) each sum from +0 rounds to -0, and zero padding past K would turn it
    /// into +0 (the kernels pad before k = 0 instead). On the CPU accelerator and PoCL the product
    /// rounds to -0 first and every sum is +0: there the check is plain agreement.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Kernel_EqualsRowDot_Bitwise_WhenEveryProductUnderflows(string device, string kernel)
    {
        Skip.IfNot(fixture.Runners.TryGetValue(device, out var runner), TestDevices.NoneOfKind(Runtime.Devices.DeviceKind.OpenCL));
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 9), (7, 33, 40), (2, 3, 33) })
        {
            for (int t = 0; t < 4; t++)
            {
                bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                var s = GemmShape.Dense(m, n, k, ta, tb);
                float[] a = Enumerable.Repeat(-1e-30f, m * k).ToArray();
                float[] b = Enumerable.Repeat(1e-30f, k * n).ToArray();
                float[] c = new float[m * n];
                float[] expected = runner.Run("RowDot", s, 1f, 0f, a, b, c);
                float[] actual = runner.Run(kernel, s, 1f, 0f, a, b, c);
                for (int i = 0; i < c.Length; i++)
                {
                    Assert.True(
                        BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                        $"{kernel} {m}x{n}x{k} transA={ta} transB={tb}: element {i} is {actual[i]:R}, RowDot gives {expected[i]:R}");
                }
            }
        }
    }

    private static void Check(GemmRunner runner, string kernel, GemmShape s, float alpha, float beta, Random rng)
    {
        float[] a = Floats(rng, s.TransA != 0 ? s.K * s.Lda : s.M * s.Lda);
        float[] b = Floats(rng, s.TransB != 0 ? s.N * s.Ldb : s.K * s.Ldb);
        float[] c = Floats(rng, s.M * s.Ldc);
        if (beta == 0f)
        {
            // β = 0: C must not be read.
            for (int i = 0; i < s.M; i++)
                Array.Fill(c, float.NaN, i * s.Ldc, s.N);
        }

        float[] expected = runner.Run("RowDot", s, alpha, beta, a, b, c);
        float[] actual = runner.Run(kernel, s, alpha, beta, a, b, c);
        string what = $"{kernel} {s.M}x{s.N}x{s.K} transA={s.TransA} transB={s.TransB} lda={s.Lda} ldb={s.Ldb} ldc={s.Ldc} beta={beta}";
        for (int i = 0; i < c.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: element {i} (row {i / s.Ldc}, column {i % s.Ldc}) is {actual[i]:R}, RowDot gives {expected[i]:R}");
        }

        // The float64 product of the same float32 inputs.
        double[] reference = c.Select(v => (double)v).ToArray();
        GemmReference.Gemm(s, alpha, a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), beta, reference);
        double err = Numerics.MaxAbsError(actual.Select(v => (double)v).ToArray(), reference);
        Assert.True(err <= 1e-6 * s.K + 1e-6, $"{what}: max error {err:E2} from the float64 product");
    }

    private static float[] Floats(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }
}
