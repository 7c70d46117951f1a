using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// How work on several lanes of one device (<see cref="ComputeDevice.Ops{T}(int)"/>) runs side by
/// side: the one place that knows whether a device's lanes are accelerator streams, issued to from
/// one host thread, or host operations, each driven from a thread of its own.
/// </summary>
internal static class Lanes
{
    /// <summary>
    /// True when the device's lanes are accelerator streams (ILGPU devices): work issued to one
    /// returns at once, so one host thread keeps several busy. False (<c>cpu</c>): a lane computes
    /// on the thread that calls it, so lanes run side by side only on threads of their own.
    /// </summary>
    /// <param name="device">The device.</param>
    public static bool AreStreams(ComputeDevice device) => device.IsIlgpu;

    /// <summary>
    /// Runs stage s's steps on lane s for every stage side by side and returns when all have
    /// finished: on streams, one host thread walks the stages' steps alternately
    /// (<see cref="StageRunner.Interleave"/>); on host lanes, each stage walks on a thread of
    /// <paramref name="threads"/>. Lane 0 is synchronized first (the other lanes read what it
    /// wrote, buffers it allocated and zeroed included) and every lane at the end. The failure
    /// rethrown is that of the lowest stage that failed.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">The device whose lanes 0 … stages − 1 the stages issue on.</param>
    /// <param name="stages">Stages, at least 1.</param>
    /// <param name="threads">The caller's runner for host lanes, kept from call to call: made here on first use (its owner disposes it).</param>
    /// <param name="steps">Stage s's steps as an iterator (each step issues its work to lane s).</param>
    public static void RunSideBySide<T>(ComputeDevice device, int stages, ref StageRunner? threads, Func<int, IEnumerable<bool>> steps)
        where T : unmanaged
    {
        bool streams = AreStreams(device);
        if (!streams && threads?.Stages != stages)
        {
            threads?.Dispose();
            threads = new StageRunner(stages, "lane");
        }

        device.Ops<T>(0).Synchronize();
        try
        {
            if (streams)
                StageRunner.Interleave(stages, steps);
            else
                threads!.Run((s, _) => Drain(steps(s)));
        }
        finally
        {
            for (int s = stages - 1; s >= 0; s--)
                device.Ops<T>(s).Synchronize();
        }
    }

    /// <summary>Walks every step of an iterator.</summary>
    /// <param name="steps">The steps.</param>
    public static void Drain(IEnumerable<bool> steps)
    {
        foreach (bool _ in steps)
        {
        }
    }
}
