namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// How the host backend splits one operation across cores: only when the work is large enough
/// to pay for waking other threads, in contiguous chunks of whole work items.
/// </summary>
/// <remarks>
/// The chunks after the first run on persistent workers (one per extra core) that spin a while
/// between operations before they block, so a fork/join costs about a microsecond rather than
/// the tens of microseconds of <see cref="Parallel.For(int, int, Action{int})"/>: the per-step
/// recurrent product of a batch-1 LSTM (≈ 10 µs) can then use both cores, each reading its half
/// of W_hh from its own L2. One operation holds the workers at a time; an operation issued from
/// another thread meanwhile runs inline (the other cores are busy with the holder's chunks).
/// </remarks>
internal static class CpuParallel
{
    /// <summary>
    /// Multiply-adds below which an operation stays on the calling thread: about 8 µs of one
    /// core's vector work (the batch-1 recurrent product of H = 256, 1 × 1024 × 256, is split),
    /// several times what a fork/join on the spinning workers costs.
    /// </summary>
    public const long MinParallelWork = 1L << 18;

    /// <summary>The cores operations may use.</summary>
    public static int Cores { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>How many chunks to split <paramref name="items"/> items of total <paramref name="work"/> into (1: run inline).</summary>
    /// <param name="items">Independent work items.</param>
    /// <param name="work">Total multiply-adds (or element operations).</param>
    public static int Chunks(int items, long work) =>
        work < MinParallelWork || Cores == 1 ? 1 : Math.Min(items, Cores);

    /// <summary>
    /// Runs <paramref name="body"/>(state, start, end) over [0, items) in <paramref name="chunks"/>
    /// contiguous ranges: inline when there is one, else the first on the calling thread and one
    /// per persistent worker.
    /// </summary>
    /// <param name="items">Work items.</param>
    /// <param name="chunks">Ranges (from <see cref="Chunks"/>).</param>
    /// <param name="state">Passed to every call, so callers can hand a cached delegate their data without a closure.</param>
    /// <param name="body">Processes items [start, end).</param>
    /// <typeparam name="TState">The state's type.</typeparam>
    public static void For<TState>(int items, int chunks, TState state, Action<TState, int, int> body)
    {
        if (items <= 0)
            return;
        chunks = Math.Min(chunks, Math.Min(items, Cores));
        if (chunks <= 1 || !WorkerPool.TryAcquire())
        {
            body(state, 0, items);
            return;
        }

        var job = Job<TState>.Instance;
        job.Items = items;
        job.Chunks = chunks;
        job.State = state;
        job.Body = body;
        try
        {
            WorkerPool.Run(job, chunks);
        }
        finally
        {
            job.State = default!;
            job.Body = null!;
            WorkerPool.Release();
        }
    }

    /// <summary>One operation handed to the workers: chunk c covers items [items·c/chunks, items·(c+1)/chunks).</summary>
    internal abstract class WorkItem
    {
        public int Items;
        public int Chunks;

        public void RunChunk(int c)
        {
            int start = (int)((long)Items * c / Chunks);
            int end = (int)((long)Items * (c + 1) / Chunks);
            if (end > start)
                Invoke(start, end);
        }

        protected abstract void Invoke(int start, int end);
    }

    /// <summary>The work item of one state type, reused: only the holder of the workers fills it.</summary>
    private sealed class Job<TState> : WorkItem
    {
        public static readonly Job<TState> Instance = new();

        public TState State = default!;
        public Action<TState, int, int> Body = null!;

        protected override void Invoke(int start, int end) => Body(State, start, end);
    }

    /// <summary>
    /// The persistent workers. The caller runs chunk 0; the other chunks are claimed, not
    /// assigned: the caller and the workers take the next unclaimed chunk of the posted operation
    /// until none is left, so a worker that the OS has not scheduled yet delays nothing (the
    /// caller runs its chunk). An idle worker spins for a while on the operation word, then
    /// sleeps on an event.
    /// </summary>
    private static class WorkerPool
    {
        /// <summary>
        /// Ticks of <see cref="System.Diagnostics.Stopwatch"/> (≈ 500 µs) an idle worker spins before
        /// it blocks. Waking a blocked worker takes tens of microseconds, and the gaps between a
        /// training step's parallel operations (serial host work, small element-wise operations
        /// run inline) outlast a short spin: a spin of this length keeps the workers awake across
        /// a training step without slowing inference. It costs the idle core that long after each
        /// operation.
        /// </summary>
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 2_000;

        private static readonly Worker[] Workers = Start();
        private static int _busy;
        private static WorkItem? _item;

        /// <summary>The posted operation: generation (bits 48–63), chunks (32–47), next unclaimed chunk (0–31).</summary>
        private static long _state;
        private static int _done;
        private static Exception? _error;

        public static bool TryAcquire() => Workers.Length > 0 && Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

        public static void Release() => Volatile.Write(ref _busy, 0);

        public static void Run(WorkItem item, int chunks)
        {
            _item = item;
            _error = null;
            Volatile.Write(ref _done, 0);
            long generation = ((Volatile.Read(ref _state) >>> 48) + 1) & 0xFFFF;
            // Chunk 0 is the caller's (posted as already claimed), so the same core computes the
            // same part of every step and finds its share of the weights still in its own cache;
            // the workers claim from chunk 1 on.
            // A full fence between posting and reading each worker's sleeping flag (the worker
            // sets its flag with one before it reads the state): with a plain store the CPU may
            // read a stale "awake" flag ahead of its own store, while the worker reads the stale
            // state and sleeps; nobody claims its chunk then, and an operation whose chunks meet
            // every step (the whole-loop LSTM) waits for it for ever.
            Interlocked.Exchange(ref _state, (generation << 48) | ((long)chunks << 32) | 1);
            for (int w = 0; w < Math.Min(chunks - 1, Workers.Length); w++)
                Workers[w].Wake();
            RunClaimed(0);
            while (TryClaim(out _))
            {
            }

            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != chunks)
                spin.SpinOnce(sleep1Threshold: -1);
            _item = null;
            if (_error is { } error)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }

        /// <summary>Claims and runs the next chunk of the posted operation; false when none is left.</summary>
        private static bool TryClaim(out long generation)
        {
            while (true)
            {
                long s = Volatile.Read(ref _state);
                generation = s >>> 48;
                int chunks = (int)((s >> 32) & 0xFFFF);
                int next = (int)s;
                if (next >= chunks)
                    return false;
                if (Interlocked.CompareExchange(ref _state, s + 1, s) != s)
                    continue;
                RunClaimed(next);
                return true;
            }
        }

        /// <summary>Runs a chunk its runner has claimed and counts it done.</summary>
        private static void RunClaimed(int chunk)
        {
            try
            {
                _item!.RunChunk(chunk);
            }
            catch (Exception e)
            {
                _error = e;
            }

            Interlocked.Increment(ref _done);
        }

        /// <summary>Whether the posted operation has an unclaimed chunk.</summary>
        private static bool Pending()
        {
            long s = Volatile.Read(ref _state);
            return (int)s < (int)((s >> 32) & 0xFFFF);
        }

        private static Worker[] Start()
        {
            var workers = new Worker[CpuParallel.Cores - 1];
            for (int w = 0; w < workers.Length; w++)
                workers[w] = new Worker(w + 1);
            return workers;
        }

        private sealed class Worker
        {
            private readonly ManualResetEventSlim _wake = new(false, 0);
            private int _sleeping;

            public Worker(int index)
            {
                var thread = new Thread(Loop) { IsBackground = true, Name = $"lstm-cpu-worker-{index}" };
                thread.Start();
            }

            public void Wake()
            {
                if (Volatile.Read(ref _sleeping) != 0)
                    _wake.Set();
            }

            private void Loop()
            {
                while (true)
                {
                    long idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
                    while (!Pending())
                    {
                        if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                        {
                            Thread.SpinWait(4);
                            continue;
                        }

                        Interlocked.Exchange(ref _sleeping, 1);
                        if (!Pending())
                            _wake.Wait();
                        _wake.Reset();
                        Volatile.Write(ref _sleeping, 0);
                        idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
                    }

                    while (TryClaim(out _))
                    {
                    }
                }
            }
        }
    }
}
