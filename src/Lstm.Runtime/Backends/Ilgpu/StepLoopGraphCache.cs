namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// A recorded step loop's key on the device: what issues it and every number its launches carry
/// (sizes, switches, device addresses and lengths). Equal keys: equal launch parameters.
/// </summary>
/// <param name="Kind">What issues the operations (the cell's type).</param>
/// <param name="Values">The numbers, in the order the caller lists them.</param>
internal sealed record GraphKey(object Kind, long[] Values)
{
    /// <inheritdoc/>
    public bool Equals(GraphKey? other) =>
        other is not null && Kind.Equals(other.Kind) && Values.AsSpan().SequenceEqual(other.Values);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Kind);
        foreach (long v in Values)
            hash.Add(v);
        return hash.ToHashCode();
    }
}

/// <summary>What to do with a step loop, from its key's history (<see cref="StepLoopGraphCache{TGraph}.Lookup"/>).</summary>
internal enum GraphDecision
{
    /// <summary>Run the loop as it is: its key is new (a loop seen once is not worth recording), or recording it failed before.</summary>
    RunPlain,

    /// <summary>Record the loop and keep the recording (<see cref="StepLoopGraphCache{TGraph}.Store"/>), or report failure (<see cref="StepLoopGraphCache{TGraph}.Fail"/>).</summary>
    Record,

    /// <summary>Replay the recording.</summary>
    Replay,
}

/// <summary>
/// The recorded step loops of a device, by key: recorded on a key's second sighting (so a loop whose
/// buffers change every call is never recorded), replayed from then on, never recorded again once
/// recording failed; at most <c>capacity</c> recordings, the least recently used destroyed first.
/// Thread-safe. Pure bookkeeping: <typeparamref name="TGraph"/> is whatever the device records.
/// </summary>
/// <param name="capacity">Most recordings kept (keys are remembered up to four times as many).</param>
/// <param name="destroy">Frees a recording that leaves the cache.</param>
/// <typeparam name="TGraph">A recording.</typeparam>
internal sealed class StepLoopGraphCache<TGraph>(int capacity, Action<TGraph> destroy) where TGraph : struct
{
    private readonly Dictionary<GraphKey, Entry> _entries = [];
    private readonly Lock _lock = new();
    private long _clock;

    /// <summary>Recordings held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _entries.Values.Count(e => e.Graph is not null);
        }
    }

    /// <summary>Keys remembered (recorded, seen once, or failed).</summary>
    public int Keys
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    /// <summary>What to do with the loop of <paramref name="key"/>; the recording when it is <see cref="GraphDecision.Replay"/>.</summary>
    /// <param name="key">The loop's key.</param>
    /// <param name="graph">The recording to replay.</param>
    public GraphDecision Lookup(GraphKey key, out TGraph graph)
    {
        graph = default;
        lock (_lock)
        {
            long now = ++_clock;
            if (!_entries.TryGetValue(key, out var entry))
            {
                Evict(4 * Math.Max(1, capacity) - 1, recordings: false);
                _entries[key] = new Entry { LastUse = now };
                return GraphDecision.RunPlain;
            }

            entry.LastUse = now;
            if (entry.Graph is { } g)
            {
                graph = g;
                return GraphDecision.Replay;
            }

            return entry.Failed ? GraphDecision.RunPlain : GraphDecision.Record;
        }
    }

    /// <summary>Keeps the recording of <paramref name="key"/>, destroying the least recently used one past the capacity.</summary>
    /// <param name="key">The loop's key.</param>
    /// <param name="graph">The recording.</param>
    public void Store(GraphKey key, TGraph graph)
    {
        lock (_lock)
        {
            Evict(Math.Max(1, capacity) - 1, recordings: true);
            _entries[key] = new Entry { Graph = graph, LastUse = ++_clock };
        }
    }

    /// <summary>Marks <paramref name="key"/> as not recordable (its loop runs as it is from now on), destroying a recording it held.</summary>
    /// <param name="key">The loop's key.</param>
    public void Fail(GraphKey key)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Graph is { } g)
                destroy(g);
            _entries[key] = new Entry { Failed = true, LastUse = ++_clock };
        }
    }

    /// <summary>Destroys every recording and forgets every key.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            foreach (var entry in _entries.Values)
            {
                if (entry.Graph is { } g)
                    destroy(g);
            }

            _entries.Clear();
        }
    }

    /// <summary>Drops least recently used entries (recordings, or any entry) until at most <paramref name="keep"/> remain.</summary>
    private void Evict(int keep, bool recordings)
    {
        while (true)
        {
            var candidates = recordings ? _entries.Where(e => e.Value.Graph is not null) : _entries;
            if (candidates.Count() <= keep)
                return;
            var oldest = candidates.MinBy(e => e.Value.LastUse);
            if (oldest.Value.Graph is { } g)
                destroy(g);
            _entries.Remove(oldest.Key);
        }
    }

    private sealed class Entry
    {
        public TGraph? Graph;
        public bool Failed;
        public long LastUse;
    }
}
