namespace Lstm.Runtime.Backends;

/// <summary>
/// Device memory and the device's stream: allocation, copies between host and device, fills, and
/// the wait for issued work. Operations are issued in order on the stream; host reads synchronize.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IMemoryOps<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> elements, zero-filled.</summary>
    /// <param name="length">Number of elements.</param>
    DeviceBuffer<T> Allocate(long length);

    /// <summary>
    /// Allocates <paramref name="length"/> elements whose values are unspecified, for a buffer the
    /// caller writes in full before it reads any of it (a GEMM's C with β = 0, a layer's output
    /// over all steps): a backend may skip the zero fill, which for a pass's large scratch costs
    /// a write of all its memory. Zero-filled unless the backend says otherwise.
    /// </summary>
    /// <param name="length">Number of elements.</param>
    DeviceBuffer<T> AllocateUninitialized(long length) => Allocate(length);

    /// <summary>Copies host data into a slice of the same length.</summary>
    /// <param name="source">Host data.</param>
    /// <param name="destination">Device slice.</param>
    void Upload(ReadOnlySpan<T> source, BufferSlice<T> destination);

    /// <summary>Copies a slice to host memory of the same length (waits for pending work).</summary>
    /// <param name="source">Device slice.</param>
    /// <param name="destination">Host memory.</param>
    void Download(BufferSlice<T> source, Span<T> destination);

    /// <summary>Copies one slice into another of the same length on the device.</summary>
    /// <param name="source">Source.</param>
    /// <param name="destination">Destination; must not overlap the source.</param>
    void Copy(BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary>Sets every element of a slice.</summary>
    /// <param name="destination">The slice.</param>
    /// <param name="value">The value.</param>
    void Fill(BufferSlice<T> destination, T value);

    /// <summary>Waits until all issued work has finished.</summary>
    void Synchronize();
}
