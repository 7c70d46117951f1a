using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// "Device" memory of the host backend: a host array on the pinned object heap, so its
/// address never moves while host code (and any native code it hands the memory to) works on it.
/// </summary>
/// <remarks>
/// Arrays from <see cref="CpuArrayPool{T}.MinLength"/> elements on go back to
/// <see cref="CpuArrayPool{T}"/> when the buffer is disposed, and the next buffer of the same
/// length reuses one (cleared, unless it is allocated uninitialized): a forward or backward pass allocates its per-call activations and
/// scratch again and again at the same sizes, and each fresh array would otherwise cost an
/// allocation (page faults, for a large one) and, soon, a full (generation 2) collection.
/// <para>
/// Every buffer has a process-wide unique <see cref="Id"/> and a <see cref="Version"/> that every
/// writable access (<see cref="Span"/>, <see cref="Ref"/>, <see cref="ArrayAt"/>) advances before
/// it hands the memory out, so a copy derived from the contents (the GEMM's packed weights,
/// <see cref="PackedOperandCache{T}"/>) is known current while (Id, Version) is unchanged. Only
/// <see cref="ReadOnly"/>, <see cref="ReadOnlyRef"/> and <see cref="ReadOnlyArrayAt"/> leave the
/// version alone: their callers never write through them.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class CpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> elements, zeroed unless <paramref name="zeroed"/> is false.</summary>
    /// <param name="length">Number of elements, at most <see cref="System.Array.MaxLength"/>.</param>
    /// <param name="zeroed">False leaves the elements unspecified (for a buffer written in full before it is read).</param>
    /// <exception cref="LstmException">The length is negative or larger than one host array can hold.</exception>
    public CpuBuffer(long length, bool zeroed = true)
    {
        if (length < 0 || length > System.Array.MaxLength - Pad)
            throw new LstmException($"cpu device: cannot allocate {length} elements (one buffer holds at most {System.Array.MaxLength - Pad})");
        Array = CpuArrayPool<T>.Rent((int)length + Pad, zeroed);
        Base = AlignedStart(Array);
        _length = (int)length;
    }

    /// <summary>Elements an array holds past a buffer's length, so that its elements can begin on a 64-byte boundary.</summary>
    private static readonly int Pad = 64 / Unsafe.SizeOf<T>() - 1;

    private readonly int _length;

    /// <summary>
    /// The index in <see cref="Array"/> of the buffer's first element: the array's first element on
    /// a 64-byte boundary (the array is pinned, so it stays there). Each row of a [rows, 16·k]
    /// float operand then begins on a cache line, and so does each core's share of its units
    /// in the whole-loop LSTM, whose shares are whole multiples of 32 units: two cores never
    /// write one line, and vector loads of the rows do not span two lines.
    /// </summary>
    public int Base { get; private set; }

    /// <summary>The first element of a pinned array that lies on a 64-byte boundary.</summary>
    /// <param name="pinned">An array on the pinned object heap (it never moves).</param>
    internal static unsafe int AlignedStart(T[] pinned)
    {
        long address = (long)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return (int)((64 - (address & 63)) & 63) / Unsafe.SizeOf<T>();
    }

    private static long _lastId;
    private long _version;

    /// <summary>Unique among all host buffers of the process (never reused, even after disposal).</summary>
    public long Id { get; } = Interlocked.Increment(ref _lastId);

    /// <summary>Advanced by every writable access to the elements: equal versions mean equal contents.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>The array that holds the elements, from <see cref="Base"/> on.</summary>
    public T[] Array { get; private set; }

    /// <inheritdoc/>
    public override long Length => Array.Length == 0 ? 0 : _length;

    /// <summary>The elements of a slice of a host buffer.</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    /// <exception cref="LstmException">The slice belongs to another device's buffer.</exception>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static Span<T> Span(BufferSlice<T> slice)
    {
        var buffer = Touched(slice);
        return buffer.Array.AsSpan(buffer.Base + (int)slice.Offset, (int)slice.Length);
    }

    /// <summary>The elements of a slice, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    public static ReadOnlySpan<T> ReadOnly(BufferSlice<T> slice)
    {
        var buffer = Of(slice);
        return buffer.Array.AsSpan(buffer.Base + (int)slice.Offset, (int)slice.Length);
    }

    /// <summary>A reference to the first element of a slice, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    public static ref T ReadOnlyRef(BufferSlice<T> slice) => ref MemoryMarshal.GetReference(ReadOnly(slice));

    /// <summary>The array behind a slice and the index of the slice's first element in it, for reading only (the buffer's <see cref="Version"/> stays).</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    public static (T[] Array, int Offset) ReadOnlyArrayAt(BufferSlice<T> slice)
    {
        var buffer = Of(slice);
        return (buffer.Array, buffer.Base + (int)slice.Offset);
    }

    /// <summary>The host buffer behind a slice, without touching it.</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    public static CpuBuffer<T> Of(BufferSlice<T> slice) =>
        slice.Buffer as CpuBuffer<T>
        ?? throw new LstmException($"cpu device: a buffer of another device ({slice.Buffer.GetType().Name}) was passed to a cpu operation");

    /// <summary>A reference to the first element of a slice (for vector loads).</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static ref T Ref(BufferSlice<T> slice) => ref MemoryMarshal.GetReference(Span(slice));

    /// <summary>The array behind a slice and the index of the slice's first element in it.</summary>
    /// <param name="slice">A slice of a <see cref="CpuBuffer{T}"/>.</param>
    /// <remarks>The access counts as a write: it advances the buffer's <see cref="Version"/>.</remarks>
    public static (T[] Array, int Offset) ArrayAt(BufferSlice<T> slice)
    {
        var buffer = Touched(slice);
        return (buffer.Array, buffer.Base + (int)slice.Offset);
    }

    /// <summary>The buffer behind a slice, its version advanced (its contents may change from now on).</summary>
    private static CpuBuffer<T> Touched(BufferSlice<T> slice)
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
            CpuArrayPool<T>.Return(Array);
            Array = [];
            Base = 0;
        }
    }
}
