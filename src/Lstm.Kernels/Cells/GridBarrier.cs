using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The grid barrier of the persistent loops: one thread a group calls <see cref="Wait"/> between
/// two steps, after its group's barrier, and learns whether every group arrived.
/// </summary>
/// <remarks>
/// State in global memory, zeroed by the host before the launch (<see cref="PersistentLstmKernels.SyncLength"/> ints):
/// [<see cref="PersistentLstmKernels.SyncArrivals"/>] arrivals in the current generation,
/// [<see cref="PersistentLstmKernels.SyncGeneration"/>] the generation last opened,
/// [<see cref="PersistentLstmKernels.SyncFailed"/>] the failure flag.
/// <para>
/// On CUDA (compute capability 7.0 or more; the host loads the persistent kernels only there) the
/// ordering comes from the PTX memory model's scoped fences, <c>fence.acq_rel.gpu</c>, around relaxed
/// atomics: a fence before a group's arrival releases its group's writes; the last to arrive resets
/// the count and fences once more (acquiring every arrival's writes, releasing them with the reset)
/// before it opens the generation; a waiter that sees the generation fences to acquire. These are
/// lighter than the sequentially consistent <c>membar.gl</c> that ILGPU's device fence emits.
/// Waiters sleep between polls (<c>nanosleep</c>, from <see cref="MinSleepNs"/> doubling up to
/// <see cref="MaxSleepNs"/>) so the pollers leave the memory system to the groups still working.
/// ILGPU 1.5.3 gives a kernel no address of a view's element for PTX operands, so the
/// atomics themselves stay ILGPU's (relaxed <c>atom</c>). Elsewhere (ILGPU's CPU accelerator; the
/// code also compiles for OpenCL, which drops the PTX) it is the portable form: device fences
/// around the same atomics.
/// </para>
/// <para>
/// Either form is bounded: a group that polls more than <c>spinLimit</c> times sets the failure
/// flag and gives up, and every group that sees the flag gives up, so a grid whose groups are not
/// all resident ends instead of hanging, and the host runs the step loop instead.
/// </para>
/// </remarks>
internal static class GridBarrier
{
    /// <summary>Longest sleep between two polls on CUDA, in nanoseconds: a step's wake-up costs at most about this much.</summary>
    public const int MaxSleepNs = 256;

    /// <summary>First sleep between two polls on CUDA, in nanoseconds.</summary>
    public const int MinSleepNs = 16;

    /// <summary>
    /// One group's thread 0 at the barrier that ends step number <paramref name="generation"/> (1, 2, …):
    /// true once every group has arrived; false when the failure flag is set or the wait ran past
    /// <paramref name="spinLimit"/> polls (then it sets the flag).
    /// </summary>
    /// <param name="sync">The barrier's state.</param>
    /// <param name="groups">Groups in the grid.</param>
    /// <param name="generation">The generation this barrier opens.</param>
    /// <param name="spinLimit">Most polls before giving up.</param>
    public static bool Wait(ArrayView<int> sync, int groups, int generation, int spinLimit)
    {
        if (CudaAsm.IsSupported)
            return WaitCuda(sync, groups, generation, spinLimit);
        return WaitPortable(sync, groups, generation, spinLimit);
    }

    /// <summary>
    /// The PTX form: acquire/release fences at GPU scope around relaxed atomics, a back-off sleep
    /// between polls.
    /// </summary>
    private static bool WaitCuda(ArrayView<int> sync, int groups, int generation, int spinLimit)
    {
        // Release: the group's writes (ordered before this thread by the group barrier) become
        // visible at GPU scope before its arrival does.
        CudaAsm.Emit("fence.acq_rel.gpu;");
        if (Atomic.Add(ref sync[PersistentLstmKernels.SyncArrivals], 1) == groups - 1)
        {
            // The last to arrive: reset the count, then one fence both acquires every earlier
            // arrival's writes (their arrivals are in the count it read) and releases them with
            // the reset ahead of the generation that opens the barrier.
            Atomic.Exchange(ref sync[PersistentLstmKernels.SyncArrivals], 0);
            CudaAsm.Emit("fence.acq_rel.gpu;");
            Atomic.Exchange(ref sync[PersistentLstmKernels.SyncGeneration], generation);
            return Atomic.Add(ref sync[PersistentLstmKernels.SyncFailed], 0) == 0;
        }

        uint sleep = MinSleepNs;
        for (int poll = 0; poll < spinLimit; poll++)
        {
            if (Atomic.Add(ref sync[PersistentLstmKernels.SyncGeneration], 0) >= generation)
            {
                // Acquire: what the other groups wrote before arriving is visible from here on.
                CudaAsm.Emit("fence.acq_rel.gpu;");
                return true;
            }

            if (Atomic.Add(ref sync[PersistentLstmKernels.SyncFailed], 0) != 0)
                return false;
            CudaAsm.Emit("nanosleep.u32 %0;", sleep);
            sleep = sleep < MaxSleepNs ? sleep * 2 : sleep;
        }

        Atomic.Exchange(ref sync[PersistentLstmKernels.SyncFailed], 1);
        return false;
    }

    /// <summary>The portable form: device-level fences around relaxed atomics, polling with atomic reads.</summary>
    private static bool WaitPortable(ArrayView<int> sync, int groups, int generation, int spinLimit)
    {
        MemoryFence.DeviceLevel();
        if (Atomic.Add(ref sync[PersistentLstmKernels.SyncArrivals], 1) == groups - 1)
        {
            // The last to arrive: reset the count before the next generation opens the barrier.
            Atomic.Exchange(ref sync[PersistentLstmKernels.SyncArrivals], 0);
            MemoryFence.DeviceLevel();
            Atomic.Exchange(ref sync[PersistentLstmKernels.SyncGeneration], generation);
            return Atomic.Add(ref sync[PersistentLstmKernels.SyncFailed], 0) == 0;
        }

        for (int poll = 0; poll < spinLimit; poll++)
        {
            if (Atomic.Add(ref sync[PersistentLstmKernels.SyncFailed], 0) != 0)
                return false;
            if (Atomic.Add(ref sync[PersistentLstmKernels.SyncGeneration], 0) >= generation)
            {
                MemoryFence.DeviceLevel();
                return true;
            }
        }

        Atomic.Exchange(ref sync[PersistentLstmKernels.SyncFailed], 1);
        return false;
    }
}
