namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The pinned arrays of disposed <see cref="CpuBuffer{T}"/>s, kept by exact length for the next
/// buffer of that length (a buffer's length is its array's length).
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="MaxPerLength"/> arrays of one length and
/// <see cref="MaxPooledBytes"/> bytes in all per element type; arrays past the bounds are left to
/// the collector. Thread-safe (one lock; renting and returning are rare next to the work on the
/// arrays).
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal static class CpuArrayPool<T> where T : unmanaged
{
    /// <summary>
    /// Shortest array pooled. Small arrays are cheap to allocate, but they live on the pinned
    /// object heap, whose allocations count toward the generation-2 budget: a pass that allocates
    /// its small buffers afresh makes every collection a full one; pooled, they cause none.
    /// </summary>
    public const int MinLength = 64;

    /// <summary>
    /// Most arrays kept of one length. A training pass holds many arrays of one state's length
    /// [B, H] at once (the forward result's h_n and c_n, the gradients dh0 and dc0 and their
    /// row-sorted copies, zeros, each direction's recurrent dh and dc): with room for fewer, one of
    /// them would be dropped and allocated again on every pass.
    /// </summary>
    public const int MaxPerLength = 16;

    /// <summary>Most bytes kept in all.</summary>
    public const long MaxPooledBytes = 512L << 20;

    private static readonly Dictionary<int, Stack<T[]>> Free = [];
    private static long _pooledBytes;

    /// <summary>A pinned array of exactly <paramref name="length"/> elements, reused when one is pooled.</summary>
    /// <param name="length">Elements.</param>
    /// <param name="zeroed">Whether the elements must be zero; otherwise they are whatever the array last held.</param>
    public static T[] Rent(int length, bool zeroed = true)
    {
        if (length >= MinLength)
        {
            T[]? reused = null;
            lock (Free)
            {
                if (Free.TryGetValue(length, out var stack) && stack.Count > 0)
                {
                    reused = stack.Pop();
                    _pooledBytes -= Bytes(length);
                }
            }

            if (reused is not null)
            {
                if (zeroed)
                    System.Array.Clear(reused);
                return reused;
            }
        }

        return zeroed ? GC.AllocateArray<T>(length, pinned: true) : GC.AllocateUninitializedArray<T>(length, pinned: true);
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Rent"/> when it is large and the bounds allow.</summary>
    /// <param name="array">An array no one uses any more.</param>
    public static void Return(T[] array)
    {
        if (array.Length < MinLength)
            return;
        long bytes = Bytes(array.Length);
        lock (Free)
        {
            if (_pooledBytes + bytes > MaxPooledBytes)
                return;
            if (!Free.TryGetValue(array.Length, out var stack))
                Free[array.Length] = stack = new Stack<T[]>(MaxPerLength);
            if (stack.Count >= MaxPerLength)
                return;
            stack.Push(array);
            _pooledBytes += bytes;
        }
    }

    private static long Bytes(int length) => (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
}
