using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// Runs stages as a wavefront over blocks of steps: stage j's work is an iterator that yields once
/// per step and walks the blocks in order; its block i starts once stage j − 1 has finished its
/// block i (what it reads); after its last block, the rest of its iterator (its tail) runs. The
/// layer pipeline again, with lanes of one device for stages and blocks of steps for chunks.
/// </summary>
internal static class WavefrontRunner
{
    /// <summary>
    /// Runs the wavefront with stage j issuing on lane <paramref name="laneOf"/>(j): on streams
    /// (<see cref="Lanes.AreStreams"/>) from one host thread (<see cref="Issue{T}"/>), on host
    /// lanes on a thread per stage (<see cref="RunThreads"/>). Lane 0 is synchronized first (the
    /// other lanes read what it wrote) and every stage's lane at the end.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">The device.</param>
    /// <param name="blockLengths">The steps of each block, in the order the stages walk them.</param>
    /// <param name="laneOf">The lane of stage j.</param>
    /// <param name="stages">The stages' iterators (one item per step).</param>
    public static void Run<T>(ComputeDevice device, int[] blockLengths, int[] laneOf, Func<int, IEnumerable<bool>> stages)
        where T : unmanaged
    {
        int count = laneOf.Length;
        var lanes = new IDeviceOps<T>[count];
        for (int j = 0; j < count; j++)
            lanes[j] = device.Ops<T>(laneOf[j]);
        device.Ops<T>(0).Synchronize();
        try
        {
            if (Lanes.AreStreams(device))
                Issue(count, blockLengths, lanes, stages);
            else
                RunThreads(count, blockLengths, stages);
        }
        finally
        {
            for (int j = 0; j < count; j++)
                lanes[j].Synchronize();
        }
    }

    /// <summary>
    /// The wavefront on streams: one host thread issues the stages in rounds, round r issuing
    /// stage j's block r − j, the later stages first, so that synchronizing stage j − 1's stream
    /// before stage j's block i waits only for block i (streams have no events to wait on here);
    /// the tails are issued after the last round.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="stages">Stages.</param>
    /// <param name="blockLengths">The steps of each block, in walking order.</param>
    /// <param name="lanes">Stage j's lane.</param>
    /// <param name="stage">Stage j's iterator.</param>
    public static void Issue<T>(int stages, int[] blockLengths, IDeviceOps<T>[] lanes, Func<int, IEnumerable<bool>> stage)
        where T : unmanaged
    {
        int blocks = blockLengths.Length;
        var walks = new IEnumerator<bool>[stages];
        try
        {
            for (int j = 0; j < stages; j++)
                walks[j] = stage(j).GetEnumerator();
            for (int round = 0; round < blocks + stages - 1; round++)
            {
                for (int j = stages - 1; j >= 0; j--)
                {
                    int i = round - j;
                    if (i < 0 || i >= blocks)
                        continue;
                    // Stage j-1 issued its block i in the previous round and nothing after it yet.
                    if (j > 0)
                        lanes[j - 1].Synchronize();
                    for (int s = 0; s < blockLengths[i]; s++)
                        walks[j].MoveNext();
                }
            }

            foreach (var walk in walks)
            {
                while (walk.MoveNext())
                {
                }
            }
        }
        finally
        {
            foreach (var walk in walks)
                walk?.Dispose();
        }
    }

    /// <summary>
    /// The wavefront on host lanes: each stage on a thread of a <see cref="StageRunner"/> (stage 0
    /// on the caller's), a semaphore per pair of stages handing over each finished block. A stage
    /// that fails cancels the others' hand-offs, so the later stages stop instead of waiting for
    /// blocks that will not come; the failure rethrown is the earliest stage's.
    /// </summary>
    /// <param name="stages">Stages.</param>
    /// <param name="blockLengths">The steps of each block, in walking order.</param>
    /// <param name="stage">Stage j's iterator.</param>
    public static void RunThreads(int stages, int[] blockLengths, Func<int, IEnumerable<bool>> stage)
    {
        var handOff = new SemaphoreSlim[stages - 1];
        for (int j = 0; j < stages - 1; j++)
            handOff[j] = new SemaphoreSlim(0);
        try
        {
            StageRunner.RunOnce(stages, "wavefront stage", (j, cancel) => Walk(blockLengths, stage(j), j > 0 ? handOff[j - 1] : null, j < stages - 1 ? handOff[j] : null, cancel));
        }
        finally
        {
            foreach (var semaphore in handOff)
                semaphore.Dispose();
        }
    }

    /// <summary>One stage of <see cref="RunThreads"/>: waits for each block from the stage before, walks it, hands it to the stage after.</summary>
    private static void Walk(int[] blockLengths, IEnumerable<bool> steps, SemaphoreSlim? from, SemaphoreSlim? to, CancellationToken cancel)
    {
        using var walk = steps.GetEnumerator();
        foreach (int length in blockLengths)
        {
            // Throws once another stage failed: this stage stops instead of waiting.
            from?.Wait(cancel);
            for (int s = 0; s < length; s++)
                walk.MoveNext();
            to?.Release();
        }

        while (walk.MoveNext())
        {
        }
    }
}
