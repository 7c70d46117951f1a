using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <content>
/// A direction's step loop recorded as a CUDA graph (<see cref="StepLoopGraphs"/>). The loop is
/// captured on a stream of this instance's own (a non-blocking stream: ILGPU's default CUDA stream is
/// the legacy one, which cannot be captured) while the instance issues on it, in thread-local capture
/// mode so other lanes keep launching; the graph is then launched on the instance's stream, after
/// what it issued before. The key holds every size and device address the loop's launches carry,
/// and this instance's identity (its GEMM choice, precision and thread counts).
/// </content>
internal sealed partial class IlgpuOps<T, TOps> : IStepLoopGraphOps<T>
{
    private static long _instances;
    private readonly long _instance = Interlocked.Increment(ref _instances);
    private AcceleratorStream? _captureStream;

    /// <inheritdoc/>
    public bool RecordsStepLoops => StepLoopGraphs.For(_accelerator).Active;

    /// <inheritdoc/>
    public bool TryRunStepLoop(StepLoopKey<T> key, Action loop)
    {
        var graphs = StepLoopGraphs.For(_accelerator);
        if (!graphs.Active || _stream is not CudaStream stream)
            return false;
        var graphKey = KeyOf(key);
        switch (graphs.Cache.Lookup(graphKey, out var graph))
        {
            case GraphDecision.Replay:
                return Launch(graphs, graphKey, graph, stream, GraphDecision.Replay);
            case GraphDecision.Record:
                if (Capture(loop) is not { } captured)
                {
                    graphs.Cache.Fail(graphKey);
                    graphs.Count(GraphDecision.Record, ok: false);
                    return false;
                }

                graphs.Cache.Store(graphKey, captured);
                return Launch(graphs, graphKey, captured, stream, GraphDecision.Record);
            default:
                return false;
        }
    }

    /// <summary>The key's numbers: this instance, the sizes, then each buffer's device address and length (0, 0 for none).</summary>
    internal GraphKey KeyOf(StepLoopKey<T> key)
    {
        var values = new long[1 + key.Sizes.Length + 2 * key.Buffers.Length];
        values[0] = _instance;
        for (int i = 0; i < key.Sizes.Length; i++)
            values[1 + i] = key.Sizes[i];
        int at = 1 + key.Sizes.Length;
        foreach (var slice in key.Buffers)
        {
            if (slice is { Length: > 0 } s)
            {
                var view = View(s);
                values[at] = view.LoadEffectiveAddressAsPtr().ToInt64();
                values[at + 1] = view.Length;
            }

            at += 2;
        }

        return new GraphKey(key.Kind, values);
    }

    /// <summary>Records <paramref name="loop"/> on the capture stream; null when the driver refused (nothing ran on the device then).</summary>
    private CudaGraph? Capture(Action loop)
    {
        _captureStream ??= _accelerator.CreateStream();
        var capture = ((CudaStream)_captureStream).StreamPtr;
        using var binding = _accelerator.BindScoped();
        if (CudaDriver.StreamBeginCapture(capture, CudaDriver.CaptureModeThreadLocal) != 0)
            return null;
        var own = _stream;
        _stream = _captureStream;
        Exception? failure = null;
        try
        {
            loop();
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            _stream = own;
        }

        // End the capture whatever happened, so the stream is usable again.
        int ended = CudaDriver.StreamEndCapture(capture, out var graph);
        if (failure is not null || ended != 0 || graph == IntPtr.Zero)
        {
            if (graph != IntPtr.Zero)
                CudaDriver.GraphDestroy(graph);
            // An operation the capture does not allow (a wait, an allocation) surfaces as a CUDA
            // error: the loop then runs as it is. Anything else is the caller's error.
            if (failure is not null and not CudaException and not InvalidOperationException)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            return null;
        }

        if (CudaDriver.GraphInstantiate(out var exec, graph) != 0)
        {
            CudaDriver.GraphDestroy(graph);
            return null;
        }

        return new CudaGraph(graph, exec);
    }

    private bool Launch(StepLoopGraphs graphs, GraphKey key, CudaGraph graph, CudaStream stream, GraphDecision what)
    {
        int result;
        using (_accelerator.BindScoped())
            result = CudaDriver.GraphLaunch(graph.Exec, stream.StreamPtr);
        graphs.Count(what, result == 0);
        if (result != 0)
            graphs.Cache.Fail(key);
        return result == 0;
    }
}
