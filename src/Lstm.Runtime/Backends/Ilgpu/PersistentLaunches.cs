using System.Runtime.CompilerServices;
using ILGPU.Runtime;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// The persistent LSTM forward and backward launches of one accelerator, shared by every stream's operations:
/// one at a time (so two grids never share the multiprocessors), counted, and the knobs the
/// tests turn.
/// </summary>
internal sealed class PersistentLaunches
{
    /// <summary>Grid-barrier polls before a group gives up on a GPU: well past any step's wait, a fraction of a second.</summary>
    public const int GpuSpinLimit = 1 << 18;

    /// <summary>Polls on ILGPU's CPU accelerator, whose simulated threads share the host's cores with the waiting ones.</summary>
    public const int CpuSpinLimit = 1 << 28;

    private static readonly ConditionalWeakTable<Accelerator, PersistentLaunches> ByAccelerator = new();
    private long _runs;
    private long _timeouts;
    private long _backwardRuns;
    private long _backwardTimeouts;

    private PersistentLaunches(Accelerator accelerator) =>
        SpinLimit = accelerator.AcceleratorType == AcceleratorType.CPU ? CpuSpinLimit : GpuSpinLimit;

    /// <summary>The launches of <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    public static PersistentLaunches For(Accelerator accelerator) => ByAccelerator.GetValue(accelerator, a => new PersistentLaunches(a));

    /// <summary>Held while one launch runs and its failure flag is read.</summary>
    public object Lock { get; } = new();

    /// <summary>Whether the persistent forward and backward may run (true by default; false: the step loop always).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Grid-barrier polls before a group gives up (<see cref="GpuSpinLimit"/> or <see cref="CpuSpinLimit"/>).</summary>
    public int SpinLimit { get; set; }

    /// <summary>Test hook: the group that leaves at once (a lost group), or -1.</summary>
    public int SkipGroup { get; set; } = -1;

    /// <summary>Forward loops that ran as one persistent launch.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Persistent launches whose grid barrier timed out (the step loop then ran instead).</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Backward loops that ran as one persistent launch.</summary>
    public long BackwardRuns => Interlocked.Read(ref _backwardRuns);

    /// <summary>Persistent backward launches whose grid barrier timed out (the step loop then ran instead).</summary>
    public long BackwardTimeouts => Interlocked.Read(ref _backwardTimeouts);

    /// <summary>Counts a persistent launch: a run when every group met every barrier, else a time-out.</summary>
    /// <param name="backward">A backward loop (counted apart from the forward loops).</param>
    /// <param name="met">Whether every group met every barrier.</param>
    public void Count(bool backward, bool met)
    {
        if (backward)
            Interlocked.Increment(ref met ? ref _backwardRuns : ref _backwardTimeouts);
        else
            Interlocked.Increment(ref met ? ref _runs : ref _timeouts);
    }
}
