using ILGPU.Runtime;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <content>Operations bound to a stream of their own (a device lane).</content>
internal sealed partial class IlgpuOps<T, TOps>
{
    /// <summary>Loads every kernel for the accelerator and launches them on <paramref name="stream"/> instead of the default stream.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="stream">The stream every operation of this instance is issued on (not owned).</param>
    /// <param name="gemm">The GEMM kernel to launch.</param>
    /// <param name="tile">The tile edge of the tiled GEMM.</param>
    /// <param name="maxThreads">Most threads one element-wise launch uses.</param>
    /// <param name="precision">The arithmetic of float32 products.</param>
    public IlgpuOps(Accelerator accelerator, AcceleratorStream stream, GemmAlgorithm gemm, int tile, int maxThreads, GemmPrecision precision)
        : this(accelerator, gemm, tile, maxThreads, precision) => _stream = stream;
}
