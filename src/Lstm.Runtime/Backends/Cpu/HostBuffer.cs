using System.Runtime.InteropServices;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// "Device" memory of the host backend: a host array on the pinned object heap, so its
/// address never moves while host code (and any native code it hands the memory to) works on it.
/// </summary>
/// <remarks>
/// Arrays from <see cref="HostArrayPool{T}.MinLength"/> elements on go back to
/// <see cref="HostArrayPool{T}"/> when the buffer is disposed, and the next buffer of the same
/// length reuses one (cleared, unless it is allocated uninitialized): a forward or backward pass allocates its per-call activations and
/// scratch again and again at the same sizes, and each fresh array would otherwise cost an
/// allocation (page faults, for a large one) and, soon, a full (generation 2) collection.
/// <para>
/// Every buffer has a process-wide unique <see cref="Id"/> and a <see cref="Version"/> that every
/// writable access (<see cref="Span"/>, <see cref="Ref"/>, <see cref="ArrayOf"/>) advances before
/// it hands the memory out, so a copy derived from the contents (the GEMM's packed weights,
/// <see cref="PackedOperandCache{T}"/>) is known current while (Id, Version) is unchanged. Only
/// <see cref="ReadOnly"/>, <see cref="ReadOnlyRef"/> and <see cref="ReadOnlyArrayOf"/> leave the
/// version alone: their callers never write through them.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class HostBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> elements, zeroed unless <paramref name="zeroed"/> is false.</summary>
    /// <param name="length">Number of elements, at most <see cref="System.Array.MaxLength"/>.</param>
    /// <param name="zeroed">False leaves the elements unspecified (for a buffer written in full before it is read).</param>
    /// <exception cref="LstmException">The length is negative or larger than one host array can hold.</exception>
    public HostBuffer(long length, bool zeroed = true)
    {
        if (length < 0 || length > System.Array.MaxLength)
            throw new LstmException($"cpu device: cannot allocate {length} elements (one buffer holds at most {System.Array.MaxLength})");
        Array = HostArrayPool<T>.Rent((int)length, zeroed);
    }

    private static long _lastId;
    private long _version;

    /// <summary>Unique among all host buffers of the process (never reused, even after disposal).</summary>
    public long Id { get; } = Interlocked.Increment(ref _lastId);

    /// <summary>Advanced by every writable access to the elements: equal versions mean equal contents.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>The elements.</summary>
    public T[] Array { get; private set; }

    /// <inheritdoc/>
    public override long Length => Array.Length;

    /// <summary>The elements of a slice of a host buffer.</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    /// <exception cref="LstmException">The slice belongs to another device's buffer.</exception>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static Span<T> Span(BufferSlice<T> slice) => Touched(slice).Array.AsSpan((int)slice.Offset, (int)slice.Length);

    /// <summary>The elements of a slice, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    public static ReadOnlySpan<T> ReadOnly(BufferSlice<T> slice) => Of(slice).Array.AsSpan((int)slice.Offset, (int)slice.Length);

    /// <summary>A reference to the first element of a slice, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    public static ref T ReadOnlyRef(BufferSlice<T> slice) => ref MemoryMarshal.GetReference(ReadOnly(slice));

    /// <summary>The array behind a slice, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    public static T[] ReadOnlyArrayOf(BufferSlice<T> slice) => Of(slice).Array;

    /// <summary>The host buffer behind a slice, without touching it.</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    public static HostBuffer<T> Of(BufferSlice<T> slice) =>
        slice.Buffer as HostBuffer<T>
        ?? throw new LstmException($"cpu device: a buffer of another device ({slice.Buffer.GetType().Name}) was passed to a cpu operation");

    /// <summary>A reference to the first element of a slice (for vector loads).</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static ref T Ref(BufferSlice<T> slice) => ref MemoryMarshal.GetReference(Span(slice));

    /// <summary>The array behind a slice (the slice starts at <see cref="BufferSlice{T}.Offset"/>).</summary>
    /// <param name="slice">A slice of a <see cref="HostBuffer{T}"/>.</param>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static T[] ArrayOf(BufferSlice<T> slice) => Touched(slice).Array;

    /// <summary>The buffer behind a slice, its version advanced (its contents may change from now on).</summary>
    private static HostBuffer<T> Touched(BufferSlice<T> slice)
    {
        var buffer = Of(slice);
        Interlocked.Increment(ref buffer._version);
        return buffer;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // The array is managed memory: dropping it lets the collector reclaim it, unless the pool
        // keeps it for the next buffer of its length. Slices of a disposed buffer see no elements.
        if (disposing)
        {
            HostArrayPool<T>.Return(Array);
            Array = [];
        }
    }
}
