using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends.Reference;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The accelerators the reduced-precision GEMM tests run kernels on, opened once per test class:
/// ILGPU's CPU accelerator as the runtime opens it (4-lane warps), one with 32-lane warps and
/// groups of 128 (what the tensor-core kernels' emulated mma needs), and every OpenCL and CUDA
/// device present.
/// </summary>
public sealed class PrecisionAccelerators : IDisposable
{
    private readonly Context _context = Context.Create(b => b.CPU(CPUDeviceKind.Default).OpenCL().Cuda().EnableAlgorithms());
    private readonly Dictionary<string, Accelerator> _open = [];

    /// <summary>Names of the accelerators present: ilgpu-cpu, ilgpu-cpu32, opencl:N, cuda:N.</summary>
    public IReadOnlyList<string> Names()
    {
        var names = new List<string> { "ilgpu-cpu", "ilgpu-cpu32" };
        names.AddRange(Enumerable.Range(0, _context.GetCLDevices().Count).Select(i => $"opencl:{i}"));
        names.AddRange(Enumerable.Range(0, _context.GetCudaDevices().Count).Select(i => $"cuda:{i}"));
        return names;
    }

    /// <summary>The open accelerator of that name.</summary>
    public Accelerator Get(string name)
    {
        if (_open.TryGetValue(name, out var accelerator))
            return accelerator;
        accelerator = name switch
        {
            "ilgpu-cpu" => _context.GetCPUDevice(0).CreateCPUAccelerator(_context),
            "ilgpu-cpu32" => new CPUDevice(TensorCoreGemmKernels.WarpSize, TensorCoreGemmKernels.GroupSize / TensorCoreGemmKernels.WarpSize, 1).CreateCPUAccelerator(_context),
            _ when name.StartsWith("opencl:", StringComparison.Ordinal) => _context.GetCLDevices()[int.Parse(name[7..], System.Globalization.CultureInfo.InvariantCulture)].CreateCLAccelerator(_context),
            _ when name.StartsWith("cuda:", StringComparison.Ordinal) => _context.GetCudaDevices()[int.Parse(name[5..], System.Globalization.CultureInfo.InvariantCulture)].CreateCudaAccelerator(_context),
            _ => throw new ArgumentException($"unknown accelerator {name}", nameof(name)),
        };
        _open[name] = accelerator;
        return accelerator;
    }

    public void Dispose()
    {
        foreach (var accelerator in _open.Values)
            accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>Operands, launches and error measures shared by the reduced-precision GEMM tests.</summary>
internal static class PrecisionGemm
{
    public static readonly GemmPrecision[] Precisions = [GemmPrecision.Fp32, GemmPrecision.Tf32, GemmPrecision.ThreeTf32, GemmPrecision.Bf16];

    /// <summary>
    /// The worst-case bound on |C - C_float64| / (|α|·Σ_k |a·b| + |β·c|), the scale every rounding
    /// error of a dot product is a multiple of: the operands' rounding (relative error u each, so
    /// 2u + u² for a product; u = 2^-11 for TF32, 2^-8 for BF16; 3xTF32 drops lo_a·lo_b, at most
    /// 2^-22 of the product, and its hi + lo misses each operand by at most 2^-22) plus one
    /// float32 rounding of 2^-24 per sum (K, or 3K for 3xTF32's three partial products) and two
    /// for α and β.
    /// </summary>
    public static double Bound(GemmPrecision p, int k)
    {
        double operands = p switch
        {
            GemmPrecision.Fp32 => 0,
            GemmPrecision.Tf32 => Math.ScaleB(1, -10) + Math.ScaleB(1, -22),
            GemmPrecision.ThreeTf32 => 3 * Math.ScaleB(1, -22),
            _ => Math.ScaleB(1, -7) + Math.ScaleB(1, -16),
        };
        int sums = p == GemmPrecision.ThreeTf32 ? 3 * k : k;
        return operands + (sums + 2) * Math.ScaleB(1, -24);
    }

    /// <summary>A, B and C sized for the shape (leading dimensions included), uniform in [-1, 1].</summary>
    public static (float[] A, float[] B, float[] C) Operands(Random rng, GemmShape s)
    {
        int aLen = s.TransA != 0 ? s.K * s.Lda : s.M * s.Lda;
        int bLen = s.TransB != 0 ? s.N * s.Ldb : s.K * s.Ldb;
        return (Uniform(rng, aLen), Uniform(rng, bLen), Uniform(rng, s.M * s.Ldc));
    }

    private static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>C with its M×N block set to NaN (β = 0 must not read it).</summary>
    public static float[] NaNBlock(GemmShape s, float[] c)
    {
        var r = (float[])c.Clone();
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
                r[i * s.Ldc + j] = float.NaN;
        }

        return r;
    }

    /// <summary>Runs <see cref="PrecisionGemmKernels.RowDot"/> and returns C.</summary>
    public static float[] RunRowDot(Accelerator accelerator, GemmPrecision precision, GemmShape s, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var kernel = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, int>(PrecisionGemmKernels.RowDot);
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        int threads = PrecisionGemmKernels.Threads(s, accelerator.AcceleratorType == AcceleratorType.CPU ? accelerator.MaxNumThreadsPerGroup : 1 << 20);
        kernel(threads, da.View, db.View, dc.View, s, alpha, beta, (int)precision, threads);
        accelerator.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>Runs the tensor-core kernel of <paramref name="precision"/> and returns C.</summary>
    public static float[] RunTensorCore(Accelerator accelerator, GemmPrecision precision, GemmShape s, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var kernel = accelerator.LoadStreamKernel(TensorCoreGemmKernels.Kernel((GemmRounding)precision));
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        kernel(TensorCoreGemmKernels.Config(s), da.View, db.View, dc.View, s, alpha, beta);
        accelerator.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>The host twin: <see cref="PrecisionReference.Gemm"/> on a copy of C.</summary>
    public static float[] Twin(GemmPrecision precision, GemmShape s, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var r = (float[])c.Clone();
        PrecisionReference.Gemm(precision, s, alpha, a, b, beta, r);
        return r;
    }

    /// <summary>
    /// The float64 product and, per element of C, the scale Σ_k |α·a·b| + |β·c| that bounds
    /// rounding errors (the error of a dot product is a multiple of it, whatever the cancellation).
    /// </summary>
    public static (double[] Exact, double[] Scale) Float64(GemmShape s, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var exact = c.Select(v => (double)v).ToArray();
        GemmReference.Gemm(s, alpha, a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), beta, exact);
        var scale = new double[c.Length];
        var absA = a.Select(v => Math.Abs((double)v)).ToArray();
        var absB = b.Select(v => Math.Abs((double)v)).ToArray();
        GemmReference.Gemm(s, Math.Abs(alpha), absA, absB, 0, scale);
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
                scale[i * s.Ldc + j] += beta == 0 ? 0 : Math.Abs(beta * (double)c[i * s.Ldc + j]);
        }

        return (exact, scale);
    }

    /// <summary>max over the M×N block of |got - exact| / scale (NaN if any result is NaN).</summary>
    public static double MaxScaledError(GemmShape s, float[] got, double[] exact, double[] scale)
    {
        double worst = 0;
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
            {
                int idx = i * s.Ldc + j;
                double e = Math.Abs(got[idx] - exact[idx]) / Math.Max(scale[idx], double.Epsilon);
                if (double.IsNaN(e))
                    return double.NaN;
                worst = Math.Max(worst, e);
            }
        }

        return worst;
    }

    /// <summary>The elements outside the M×N block (padding of Ldc) are untouched.</summary>
    public static bool PaddingKept(GemmShape s, float[] got, float[] before)
    {
        for (int i = 0; i < s.M; i++)
        {
            for (int j = s.N; j < s.Ldc; j++)
            {
                if (BitConverter.SingleToInt32Bits(got[i * s.Ldc + j]) != BitConverter.SingleToInt32Bits(before[i * s.Ldc + j]))
                    return false;
            }
        }

        return true;
    }

    /// <summary>The number of elements of the M×N block whose bits differ.</summary>
    public static int BitDifferences(GemmShape s, float[] got, float[] expected)
    {
        int n = 0;
        for (int i = 0; i < s.M; i++)
        {
            for (int j = 0; j < s.N; j++)
            {
                int idx = i * s.Ldc + j;
                if (BitConverter.SingleToInt32Bits(got[idx]) != BitConverter.SingleToInt32Bits(expected[idx]))
                    n++;
            }
        }

        return n;
    }
}
