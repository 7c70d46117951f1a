using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>float32 products at a reduced precision (<see cref="GemmPrecision"/>) on an ILGPU device.</summary>
internal sealed partial class IlgpuOps<T, TOps>
{
    private readonly GemmPrecision _precision = precision;

    /// <summary>The portable kernel that rounds the operands as tensor cores do: loaded for a reduced float32 precision.</summary>
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, int>? _gemmRounded =
        typeof(T) == typeof(float) && precision != GemmPrecision.Fp32
            ? accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float, int, int>(PrecisionGemmKernels.RowDot)
            : null;

    /// <summary>The tensor-core kernel: loaded for a reduced float32 precision where the device has tensor cores (CUDA, compute capability 8.0 or more).</summary>
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>? _gemmTensorCores =
        typeof(T) == typeof(float) && precision != GemmPrecision.Fp32 && TensorCoreGemmKernels.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, float, float>(TensorCoreGemmKernels.Kernel((GemmRounding)precision))
            : null;

    /// <summary>The arithmetic of float32 products (float64 products are always exact float64).</summary>
    public GemmPrecision Precision => _precision;

    /// <summary>Launches a reduced-precision float32 product on the kernel <see cref="GemmDispatch.Choose"/> named.</summary>
    private void LaunchReduced(GemmAlgorithm kernel, GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c)
    {
        if (kernel == GemmAlgorithm.TensorCores)
        {
            Loaded(_gemmTensorCores, kernel)(_stream, TensorCoreGemmKernels.Config(shape), F32(a), F32(b), F32(c), shape, F32(alpha), F32(beta));
            return;
        }

        int threads = PrecisionGemmKernels.Threads(shape, _maxThreads);
        Loaded(_gemmRounded, kernel)(_stream, threads, F32(a), F32(b), F32(c), shape, F32(alpha), F32(beta), (int)_precision, threads);
    }
}
