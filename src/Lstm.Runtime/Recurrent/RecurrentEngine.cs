using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The layer stack every recurrent layer shares, driven by a cell (<see cref="IRecurrentCell{T}"/>):
/// multi-layer, one or two directions, optional projection. Each direction's loop is
/// <see cref="DirectionForward{T}"/> and <see cref="DirectionBackward{T}"/>; this class runs them
/// layer by layer (or as a wavefront) and keeps what the backward pass needs in the result.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, P projection size,
/// H_out = P or H, G = gates·H, L layers, D directions.
/// Each direction of each layer runs as docs/design.md describes: one input GEMM [T·B, I_k] × [I_k, G]
/// for all steps, then per step one recurrent GEMM [B, H_out] × [H_out, G] and one fused cell
/// kernel (plus, with a projection, one GEMM [B, H] × [H, P]). Backward walks the steps in
/// reverse with one fused backward kernel and one recurrent GEMM per step; the weight gradients
/// are GEMMs over all steps at the end and the bias gradients one reduction each.
/// The reverse direction walks t = T-1 … 0; both directions' outputs are concatenated on the
/// feature axis ([fwd, bwd]); h_n and c_n are indexed layer·D + direction.
/// The two directions of a layer are independent (their own parameters, gradients and scratch),
/// so they run side by side on lanes 0 and 1 (<see cref="Lanes.RunSideBySide{T}"/>), forward and
/// backward; they join before the next layer, and the layer's d input (the sum of both
/// directions' dgates · W_ih) is formed after the join in direction order, so the results are
/// those of the sequential run bit for bit.
/// Stacked one-direction layers can run as a wavefront over blocks of steps
/// (<see cref="LoopSchedule.Wavefront"/>, <see cref="WavefrontRunner"/>): layer k on lane k works
/// on block b while layer k+1 works on block b−1, each layer above the first projecting its input
/// one block at a time (the same rows, bit for bit, as the GEMM over all steps:
/// <see cref="IGemmOps{T}.GemmRows"/>) and dropout applied to each finished block with the
/// element indices of the whole output. Backward mirrors it: layer k+1's d input for block b
/// (dgates · W_ih over the block, then back through the dropout) lets layer k start on block b
/// while layer k+1 goes on with block b−1; each layer's weight gradients are still the GEMMs over
/// all steps once its steps are done, so every result equals the layer-after-layer run bit for
/// bit. Bidirectional layers do not overlap: layer k+1's forward direction needs layer k's
/// reverse direction, which ends at step 0, so every step of layer k comes first.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed partial class RecurrentEngine<T> : IDisposable where T : unmanaged
{
    private readonly DirectionParameters<T>[] _params;
    private StageRunner? _directionThreads;

    /// <summary>Creates the parameters with PyTorch's initialization (<see cref="Initialization.PyTorch{T}"/>).</summary>
    public RecurrentEngine(ComputeDevice device, IRecurrentCell<T> cell, RecurrentConfig config, int seed)
    {
        Device = device;
        Cell = cell;
        Config = config;
        Schedule = new LoopSchedule(device);
        _params = Initialization.PyTorch<T>(device, config, cell.Gates, seed);
    }

    public ComputeDevice Device { get; }

    public IRecurrentCell<T> Cell { get; }

    public RecurrentConfig Config { get; }

    /// <summary>Where the loops run (lanes, wavefront, whole loops).</summary>
    public LoopSchedule Schedule { get; }

    /// <summary>The seed of the dropout masks (stream = layer index, element = index in the layer's seq-first output).</summary>
    public ulong DropoutSeed { get; set; }

    private IDeviceOps<T> Ops => Device.Ops<T>();

    public IEnumerable<Parameter<T>> Parameters() => _params.SelectMany(p => p.All());

    /// <summary>
    /// Runs every direction of one layer, each given as steps to walk on its lane, and returns
    /// when all have finished: side by side (<see cref="Lanes.RunSideBySide{T}"/>) when the
    /// directions run concurrently, else direction 0, then 1, on lane 0.
    /// </summary>
    private void RunDirections(int dirs, Func<int, IEnumerable<bool>> direction)
    {
        if (dirs == 1 || !Schedule.ConcurrentDirections)
        {
            for (int d = 0; d < dirs; d++)
                Lanes.Drain(direction(d));
            return;
        }

        Lanes.RunSideBySide<T>(Device, dirs, ref _directionThreads, direction);
    }

    public void Dispose()
    {
        _directionThreads?.Dispose();
        _directionThreads = null;
        foreach (var p in Parameters())
            p.Dispose();
    }
}
