using ILGPU.Runtime;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// A host buffer that carries one chunk of activations (or of their gradients) from one device
/// to another: page-locked memory of an ILGPU accelerator (<c>AllocatePageLocked1D</c>) when
/// either end is one, so copies to and from it can run as direct transfers; a plain array
/// between host (<c>cpu</c>) devices.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class HostStaging<T> : IDisposable where T : unmanaged
{
    private readonly T[]? _array;
    private readonly PageLockedArray1D<T>? _locked;

    private HostStaging(long capacity, Accelerator? accelerator)
    {
        Capacity = capacity;
        if (accelerator is not null)
        {
            try
            {
                _locked = accelerator.AllocatePageLocked1D<T>(capacity);
                return;
            }
            catch (NotSupportedException)
            {
                // The accelerator offers no page-locked memory: a plain array does the same job.
            }
        }

        _array = new T[capacity];
    }

    /// <summary>Elements it holds.</summary>
    public long Capacity { get; }

    /// <summary>True when the memory is page-locked.</summary>
    public bool PageLocked => _locked is not null;

    /// <summary>The first <paramref name="length"/> elements.</summary>
    public Span<T> Span(long length) => _locked is not null ? _locked.Span[..(int)length] : _array.AsSpan(0, (int)length);

    /// <summary>A buffer for transfers between <paramref name="from"/> and <paramref name="to"/>.</summary>
    public static HostStaging<T> Create(long capacity, ComputeDevice from, ComputeDevice to)
    {
        var accelerator = from.IsIlgpu ? from.Accelerator : to.IsIlgpu ? to.Accelerator : null;
        return new HostStaging<T>(capacity, accelerator);
    }

    public void Dispose() => _locked?.Dispose();
}
