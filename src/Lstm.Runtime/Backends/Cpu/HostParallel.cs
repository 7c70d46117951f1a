namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// How the host backend splits one operation across cores: only when the work is large enough
/// to pay for waking other threads, in contiguous chunks of whole work items.
/// </summary>
internal static class HostParallel
{
    /// <summary>
    /// Multiply-adds below which an operation stays on the calling thread: about 50 µs of one
    /// core's vector work, several times what handing chunks to the thread pool costs.
    /// </summary>
    public const long MinParallelWork = 1L << 22;

    /// <summary>The cores operations may use.</summary>
    public static int Cores { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>How many chunks to split <paramref name="items"/> items of total <paramref name="work"/> into (1: run inline).</summary>
    /// <param name="items">Independent work items.</param>
    /// <param name="work">Total multiply-adds (or element operations).</param>
    public static int Chunks(int items, long work) =>
        work < MinParallelWork || Cores == 1 ? 1 : Math.Min(items, Cores);

    /// <summary>
    /// Runs <paramref name="body"/>(state, start, end) over [0, items) in <paramref name="chunks"/>
    /// contiguous ranges: inline when there is one, else one per thread-pool worker.
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
        if (chunks <= 1)
        {
            body(state, 0, items);
            return;
        }

        Split(items, chunks, state, body);
    }

    /// <summary>The parallel part, apart so that its closure is allocated only when it runs.</summary>
    private static void Split<TState>(int items, int chunks, TState state, Action<TState, int, int> body)
    {
        Parallel.For(0, chunks, c =>
        {
            int start = (int)((long)items * c / chunks);
            int end = (int)((long)items * (c + 1) / chunks);
            if (end > start)
                body(state, start, end);
        });
    }
}
