namespace Lstm.Runtime.Backends;

/// <summary>
/// What a direction's step loop reads and writes, and its shape: the key under which a device
/// keeps the loop recorded once (<see cref="IStepLoopGraphOps{T}"/>). Two loops with equal keys
/// issue the same operations on the same memory.
/// </summary>
/// <param name="Kind">What issues the operations (the cell's type): loops of two kinds never share a recording.</param>
/// <param name="Sizes">Every number the loop's operations depend on (steps, batch, sizes, direction, switches).</param>
/// <param name="Buffers">Every slice the loop reads or writes; null where an operand is absent.</param>
/// <typeparam name="T">float or double.</typeparam>
internal sealed record StepLoopKey<T>(object Kind, int[] Sizes, BufferSlice<T>?[] Buffers) where T : unmanaged;

/// <summary>
/// A device that can record a direction's whole forward step loop once and replay the recording
/// (CUDA graphs): the same kernels on the same memory, in the same order, so the same values bit
/// for bit, without a host launch per kernel.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal interface IStepLoopGraphOps<T> where T : unmanaged
{
    /// <summary>Whether this device records step loops at all (CUDA, not switched off).</summary>
    bool RecordsStepLoops { get; }

    /// <summary>
    /// Runs <paramref name="loop"/> (which issues its operations on these operations' stream and
    /// neither allocates nor waits for the device) from a recording kept under <paramref name="key"/>:
    /// recorded the second time the key is seen, replayed from then on. False when the loop did not
    /// run: the key is new, the recording failed, or the device does not record; the caller then runs
    /// the loop itself.
    /// </summary>
    /// <param name="key">What the loop touches.</param>
    /// <param name="loop">Issues the loop's operations.</param>
    bool TryRunStepLoop(StepLoopKey<T> key, Action loop);
}
