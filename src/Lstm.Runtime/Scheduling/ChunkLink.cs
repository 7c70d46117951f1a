using System.Collections.Concurrent;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// The link between two neighbouring stages of a <c>LayerPipeline</c>: chunks in the
/// order they are produced (forward: chunk 0, 1, ...; backward: the last chunk first), each in
/// a <see cref="HostStaging{T}"/> buffer rented from the link's pool and returned once read.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class ChunkLink<T> : IDisposable where T : unmanaged
{
    private readonly ConcurrentQueue<HostStaging<T>> _free = new();
    private readonly List<HostStaging<T>> _all = [];
    private readonly Lock _gate = new();
    private readonly BlockingCollection<(int Chunk, HostStaging<T> Buffer)> _queue = new();

    public ChunkLink(ComputeDevice from, ComputeDevice to)
    {
        From = from;
        To = to;
    }

    public ComputeDevice From { get; }

    public ComputeDevice To { get; }

    /// <summary>Bytes sent through the link since the last <see cref="Reset"/>.</summary>
    public long BytesSent { get; private set; }

    /// <summary>Empties the queue before a pass (what a failed pass left behind goes back to the pool).</summary>
    public void Reset()
    {
        while (_queue.TryTake(out var item))
            _free.Enqueue(item.Buffer);
        BytesSent = 0;
    }

    /// <summary>A buffer of at least <paramref name="length"/> elements.</summary>
    public HostStaging<T> Rent(long length)
    {
        while (_free.TryDequeue(out var b))
        {
            if (b.Capacity >= length)
                return b;
            lock (_gate)
                _all.Remove(b);
            b.Dispose();
        }

        var created = HostStaging<T>.Create(length, From, To);
        lock (_gate)
            _all.Add(created);
        return created;
    }

    /// <summary>Hands a filled buffer to the receiving stage.</summary>
    public void Send(int chunk, HostStaging<T> buffer, long length)
    {
        BytesSent += length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        _queue.Add((chunk, buffer));
    }

    /// <summary>The next chunk (blocks until it arrives); checks it is the one expected.</summary>
    public HostStaging<T> Receive(int expected, CancellationToken cancel)
    {
        var (chunk, buffer) = _queue.Take(cancel);
        if (chunk != expected)
            throw new InvalidOperationException($"pipeline link: chunk {chunk} arrived where chunk {expected} was expected");
        return buffer;
    }

    /// <summary>Gives a read buffer back to the pool.</summary>
    public void Return(HostStaging<T> buffer) => _free.Enqueue(buffer);

    public void Dispose()
    {
        _queue.Dispose();
        lock (_gate)
        {
            foreach (var b in _all)
                b.Dispose();
            _all.Clear();
        }
    }
}
