using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// op(B) of recent GEMMs with few rows, packed into the micro-kernel's column panels and kept
/// across calls: a recurrent layer multiplies by the same W_hh at every step (h_{t-1} W_hhᵀ
/// forward, dgates W_hh backward), so its panels are packed once per call, or once while the
/// weights stay unchanged, rather than once per step.
/// </summary>
/// <remarks>
/// <para>
/// An entry is keyed by the operand's buffer (<see cref="CpuBuffer{T}.Id"/>), offset, shape
/// (K, N, ldb, transpose) and panel width, and is current only while the buffer's
/// <see cref="CpuBuffer{T}.Version"/> equals the version read before it was packed. Every
/// writable access to a host buffer advances its version (an optimizer update, an upload, a copy
/// or fill into it, a GEMM writing it as C), so a changed operand is repacked, never served
/// stale.
/// </para>
/// <para>
/// Layout: the K blocks of <see cref="CpuGemm.KC"/> rows one after the other, block pc at
/// pc · Npad (Npad = N rounded up to whole panels), its panels of kc × nr at p · kc · nr; or
/// another arrangement that the caller names by a layout code of its own (the whole-loop LSTM's
/// gate panels, and their BF16 forms, half the length), kept apart from the plain one.
/// </para>
/// <para>
/// An operand enters the cache on its second use at one version (see <see cref="Rent"/>).
/// Thread-safe: lookups and packing hold one lock; a leased entry (in use by a GEMM) is neither
/// evicted nor repacked in place until it is returned. Bounded by <see cref="Capacity"/> entries
/// and <see cref="MaxBytes"/>; the least recently used unleased entry goes first.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class PackedOperandCache<T> where T : unmanaged
{
    /// <summary>Most entries kept.</summary>
    public const int Capacity = 8;

    /// <summary>Most bytes kept in all; a single operand larger than half of it is not cached.</summary>
    public const long MaxBytes = 128L << 20;

    private readonly Entry?[] _entries = new Entry?[Capacity];
    private long _clock;

    /// <summary>Packed operands served from the cache without packing (for tests and diagnostics).</summary>
    public long Hits { get; private set; }

    /// <summary>Operands packed (first use, or their buffer changed since).</summary>
    public long Packs { get; private set; }

    /// <summary>One packed operand.</summary>
    public sealed class Entry
    {
        internal long Id;
        internal long Version;
        internal long Offset;
        internal int K;
        internal int N;
        internal int Ldb;
        internal int TransB;
        internal int Nr;
        internal int Layout;
        internal long LastUse;
        internal int Leases;

        /// <summary>The panels (see the class remarks for the layout), from <see cref="Start"/> on.</summary>
        public T[] Panels = [];

        /// <summary>First element of the panels: the first 64-byte boundary of the pinned array, so no vector load of a panel spans two cache lines.</summary>
        public int Start;
    }

    /// <summary>Packs op(B) of a GEMM into panels of <c>nr</c> columns (the layout of the class remarks).</summary>
    public delegate void Packer(GemmShape s, BufferSlice<T> b, int nr, Span<T> panels);

    /// <summary>Elements of the packed form of op(B) [K, N] in panels of <paramref name="nr"/> columns.</summary>
    public static long PackedLength(int k, int n, int nr) => (long)((n + nr - 1) / nr) * nr * k;

    /// <summary>Whether op(B) of <paramref name="s"/> is small enough to cache.</summary>
    public static bool Fits(GemmShape s, int nr) =>
        PackedLength(s.K, s.N, nr) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= MaxBytes / 2;

    /// <summary>
    /// The packed op(B) of <paramref name="s"/>, current for <paramref name="b"/>'s contents, leased
    /// until <see cref="Return"/>; null the first time an operand is seen at its version (the caller
    /// packs it into its own scratch). The caller has checked that <see cref="Fits"/> holds and
    /// that the operand lies inside <paramref name="b"/>.
    /// </summary>
    /// <remarks>
    /// An operand is cached from its second use at one version on: a weight is read at every step,
    /// while activations (the B of a weight gradient) are read once, and caching them would only
    /// allocate and evict.
    /// </remarks>
    /// <param name="s">The GEMM: K, N, ldb and B's transpose.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="nr">Columns per panel.</param>
    /// <param name="pack">Packs op(B) into the given span.</param>
    /// <param name="layout">0 for the plain panels, else the caller's code for its own arrangement of them.</param>
    /// <param name="length">Elements of T the arrangement takes, when not <see cref="PackedLength"/> (BF16 panels take half); 0 for that.</param>
    public Entry? Rent(GemmShape s, BufferSlice<T> b, int nr, Packer pack, int layout = 0, long length = 0)
    {
        var buffer = CpuBuffer<T>.Of(b);
        long id = buffer.Id;
        // Read before packing: a write during the packing leaves the entry older than the buffer.
        long version = buffer.Version;
        if (length <= 0)
            length = PackedLength(s.K, s.N, nr);
        lock (_entries)
        {
            Entry? match = null;
            foreach (var e in _entries)
            {
                if (e is not null && e.Id == id && e.Offset == b.Offset && e.K == s.K && e.N == s.N
                    && e.Ldb == s.Ldb && e.TransB == s.TransB && e.Nr == nr && e.Layout == layout)
                {
                    match = e;
                    break;
                }
            }

            if (match is not null && match.Version == version)
            {
                Hits++;
                match.LastUse = ++_clock;
                match.Leases++;
                return match;
            }

            if (match is null && !SeenBefore(id, version, b.Offset, s, nr, layout))
                return null;

            Entry entry;
            if (match is not null && match.Leases == 0)
            {
                // The same operand, changed since: repack in place.
                entry = match;
            }
            else
            {
                var panels = GC.AllocateUninitializedArray<T>((int)length + 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), pinned: true);
                entry = new Entry
                {
                    Id = id, Offset = b.Offset, K = s.K, N = s.N, Ldb = s.Ldb, TransB = s.TransB, Nr = nr, Layout = layout,
                    Panels = panels, Start = CpuBuffer<T>.AlignedStart(panels),
                };
                Insert(entry, match);
            }

            pack(s, b, nr, entry.Panels.AsSpan(entry.Start, (int)length));
            Packs++;
            entry.Version = version;
            entry.LastUse = ++_clock;
            entry.Leases++;
            return entry;
        }
    }

    /// <summary>The operands seen once (id, offset, version and shape), most recent first; a ring.</summary>
    private readonly (long Id, long Offset, long Version, int K, int N, int Ldb, int TransB, int Nr, int Layout)[] _seen = new (long, long, long, int, int, int, int, int, int)[2 * Capacity];
    private int _seenNext;

    /// <summary>Whether the operand was seen before at this version; records it if not.</summary>
    private bool SeenBefore(long id, long version, long offset, GemmShape s, int nr, int layout)
    {
        var key = (id, offset, version, s.K, s.N, s.Ldb, s.TransB, nr, layout);
        foreach (var seen in _seen)
        {
            if (seen == key)
                return true;
        }

        _seen[_seenNext] = key;
        _seenNext = (_seenNext + 1) % _seen.Length;
        return false;
    }

    /// <summary>Ends a lease from <see cref="Rent"/>.</summary>
    /// <param name="entry">The rented entry.</param>
    public void Return(Entry entry)
    {
        lock (_entries)
            entry.Leases--;
    }

    /// <summary>Puts a new entry in a free slot, in place of <paramref name="replaced"/>, or of the least recently used unleased ones.</summary>
    private void Insert(Entry entry, Entry? replaced)
    {
        int slot = replaced is not null ? Array.IndexOf(_entries, replaced) : -1;
        if (slot >= 0)
            _entries[slot] = null;
        while (true)
        {
            long bytes = 0;
            int free = -1;
            int oldest = -1;
            for (int i = 0; i < _entries.Length; i++)
            {
                var e = _entries[i];
                if (e is null)
                {
                    free = free < 0 ? i : free;
                    continue;
                }

                bytes += (long)e.Panels.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
                if (e.Leases == 0 && (oldest < 0 || e.LastUse < _entries[oldest]!.LastUse))
                    oldest = i;
            }

            long need = (long)entry.Panels.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (free >= 0 && bytes + need <= MaxBytes)
            {
                _entries[free] = entry;
                return;
            }

            if (oldest < 0)
            {
                // Every entry is leased: serve this operand uncached (the caller still holds it).
                return;
            }

            _entries[oldest] = null;
        }
    }
}
