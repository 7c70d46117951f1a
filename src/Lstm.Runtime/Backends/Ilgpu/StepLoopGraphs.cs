using System.Runtime.CompilerServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>A captured CUDA graph and its executable instance.</summary>
/// <param name="Graph">The CUgraph.</param>
/// <param name="Exec">The CUgraphExec launched on a stream.</param>
internal readonly record struct CudaGraph(IntPtr Graph, IntPtr Exec);

/// <summary>
/// The step loops of one CUDA accelerator recorded as CUDA graphs (<see cref="IStepLoopGraphOps{T}"/>):
/// the cache shared by every stream's operations, the switch, and counters. A direction whose loop
/// does not run as one persistent launch (its slices of W_hh do not fit in shared memory) still
/// issues two or three kernels a step; recorded once through stream capture and replayed with one
/// <c>cuGraphLaunch</c>, the host's launch cost per kernel goes. Every recording is destroyed when the
/// accelerator is disposed.
/// </summary>
/// <remarks>
/// The switch: <see cref="Enabled"/>, true by default unless the environment variable
/// <see cref="EnvironmentSwitch"/> is <c>0</c>. Only CUDA records; the driver library must be found.
/// </remarks>
internal sealed class StepLoopGraphs
{
    /// <summary>Set to <c>0</c> to run every step loop launch by launch.</summary>
    public const string EnvironmentSwitch = "LSTM_CUDA_GRAPHS";

    /// <summary>Recordings kept per accelerator.</summary>
    public const int Capacity = 32;

    private static readonly ConditionalWeakTable<Accelerator, StepLoopGraphs> ByAccelerator = new();
    private long _captures;
    private long _replays;
    private long _failures;

    private StepLoopGraphs(Accelerator accelerator)
    {
        Cache = new StepLoopGraphCache<CudaGraph>(Capacity, Destroy);
        Supported = accelerator is CudaAccelerator && CudaDriver.Available;
        Enabled = Environment.GetEnvironmentVariable(EnvironmentSwitch) != "0";
        // Recordings belong to the accelerator's context: destroy them before it goes.
        accelerator.Disposed += (_, _) =>
        {
            using var binding = accelerator.BindScoped();
            Cache.Clear();
        };
    }

    /// <summary>The recordings of <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    public static StepLoopGraphs For(Accelerator accelerator) => ByAccelerator.GetValue(accelerator, a => new StepLoopGraphs(a));

    /// <summary>The recordings by key.</summary>
    public StepLoopGraphCache<CudaGraph> Cache { get; }

    /// <summary>Whether this accelerator can record (CUDA with the driver library found).</summary>
    public bool Supported { get; }

    /// <summary>Whether step loops are recorded (default: on, unless <see cref="EnvironmentSwitch"/> is 0).</summary>
    public bool Enabled { get; set; }

    /// <summary>Whether step loops are recorded here now.</summary>
    public bool Active => Supported && Enabled;

    /// <summary>Step loops recorded.</summary>
    public long Captures => Interlocked.Read(ref _captures);

    /// <summary>Step loops run from a recording (the recording's first run included).</summary>
    public long Replays => Interlocked.Read(ref _replays);

    /// <summary>Recordings that failed (the loop then ran launch by launch, and its key is not recorded again).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Counts a capture (and its first replay), a replay, or a failure.</summary>
    /// <param name="what">Whether the loop was recorded or replayed.</param>
    /// <param name="ok">Whether it went through.</param>
    public void Count(GraphDecision what, bool ok)
    {
        if (!ok)
            Interlocked.Increment(ref _failures);
        else
        {
            if (what == GraphDecision.Record)
                Interlocked.Increment(ref _captures);
            Interlocked.Increment(ref _replays);
        }
    }

    private static void Destroy(CudaGraph graph)
    {
        if (graph.Exec != IntPtr.Zero)
            CudaDriver.GraphExecDestroy(graph.Exec);
        if (graph.Graph != IntPtr.Zero)
            CudaDriver.GraphDestroy(graph.Graph);
    }
}
