namespace Lstm.Runtime.Backends;

/// <summary>A block of device memory holding <see cref="Length"/> elements of T.</summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    /// <summary>Number of elements.</summary>
    public abstract long Length { get; }

    /// <summary>The whole buffer as a slice.</summary>
    public BufferSlice<T> All => new(this, 0, Length);

    /// <summary>Elements [offset, offset + length) as a slice.</summary>
    /// <param name="offset">First element.</param>
    /// <param name="length">Number of elements.</param>
    public BufferSlice<T> Slice(long offset, long length) => All.Slice(offset, length);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the device memory.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);
}

/// <summary>A contiguous range of a <see cref="DeviceBuffer{T}"/>: what device operations read and write.</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly struct BufferSlice<T> : IEquatable<BufferSlice<T>> where T : unmanaged
{
    /// <summary>Creates a slice; the range must lie inside the buffer.</summary>
    /// <param name="buffer">The buffer.</param>
    /// <param name="offset">First element.</param>
    /// <param name="length">Number of elements.</param>
    public BufferSlice(DeviceBuffer<T> buffer, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (offset < 0 || length < 0 || offset + length > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) outside a buffer of {buffer.Length}");
        Buffer = buffer;
        Offset = offset;
        Length = length;
    }

    /// <summary>The underlying buffer.</summary>
    public DeviceBuffer<T> Buffer { get; }

    /// <summary>First element within <see cref="Buffer"/>.</summary>
    public long Offset { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>A sub-range of this slice.</summary>
    /// <param name="offset">First element, relative to this slice.</param>
    /// <param name="length">Number of elements.</param>
    public BufferSlice<T> Slice(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) outside a slice of {Length}");
        return new BufferSlice<T>(Buffer, Offset + offset, length);
    }

    /// <inheritdoc/>
    public bool Equals(BufferSlice<T> other) =>
        ReferenceEquals(Buffer, other.Buffer) && Offset == other.Offset && Length == other.Length;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BufferSlice<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Buffer, Offset, Length);

    /// <summary>Equality.</summary>
    public static bool operator ==(BufferSlice<T> left, BufferSlice<T> right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(BufferSlice<T> left, BufferSlice<T> right) => !left.Equals(right);
}
