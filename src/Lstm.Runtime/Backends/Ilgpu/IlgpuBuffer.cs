using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>Device memory allocated through an ILGPU accelerator.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class IlgpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    public IlgpuBuffer(MemoryBuffer1D<T, Stride1D.Dense> memory) => Memory = memory;

    public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; }

    public override long Length => Memory.Length;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Memory.Dispose();
    }
}
