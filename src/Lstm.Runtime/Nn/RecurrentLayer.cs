using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Recurrent.Cells;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// What <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> and <see cref="RNN{T}"/> share: the engine
/// that runs their time loop, their parameters, the dropout seed and streaming inference.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class RecurrentLayer<T> : IDisposable where T : unmanaged
{
    private readonly RecurrentEngine<T> _engine;

    private protected RecurrentLayer(ComputeDevice device, IRecurrentCell<T> cell, RecurrentConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(device);
        _engine = new RecurrentEngine<T>(device, cell, config, seed) { DropoutSeed = (ulong)(uint)seed };
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device => _engine.Device;

    /// <summary>False runs a bidirectional layer's two directions one after the other instead of concurrently (the results are identical).</summary>
    internal bool ConcurrentDirections
    {
        get => _engine.Schedule.ConcurrentDirections;
        set => _engine.Schedule.ConcurrentDirections = value;
    }

    /// <summary>False runs an LSTM's time loop as one operation per step instead of one per direction and layer (the results are identical).</summary>
    internal bool WholeLoops
    {
        get => _engine.Schedule.WholeLoops;
        set => _engine.Schedule.WholeLoops = value;
    }

    /// <summary>
    /// True runs stacked one-direction layers as a wavefront over blocks of steps (layer k on its
    /// own stream, block b while layer k+1 runs block b−1; the backward pass likewise), false one
    /// layer after the other; the results are identical bit for bit. The default is on for ILGPU
    /// devices (CUDA, OpenCL, ilgpu-cpu), off on <c>cpu</c>, where each GEMM already keeps every core busy.
    /// </summary>
    public bool Wavefront
    {
        get => _engine.Schedule.Wavefront;
        set => _engine.Schedule.Wavefront = value;
    }

    /// <summary>Steps per block of the wavefront over layers; 0 (the default) for ⌈T / 8⌉.</summary>
    /// <exception cref="LstmException">A negative value.</exception>
    public int WavefrontBlock
    {
        get => _engine.Schedule.WavefrontBlock;
        set => _engine.Schedule.WavefrontBlock = value;
    }

    /// <summary>
    /// The seed of the dropout masks (used when <c>Dropout</c> &gt; 0 in training): set a new one
    /// before each training step to draw a new mask. Starts as the constructor's seed.
    /// </summary>
    public ulong DropoutSeed
    {
        get => _engine.DropoutSeed;
        set => _engine.DropoutSeed = value;
    }

    /// <summary>The parameters in PyTorch's state-dict order.</summary>
    public IEnumerable<Parameter<T>> Parameters() => _engine.Parameters();

    /// <summary>
    /// Streaming inference: runs one step or a chunk of steps from the state the previous call
    /// returned (zeros when null), so feeding a sequence chunk by chunk gives what one
    /// <c>Forward</c> over the whole sequence gives. Unidirectional networks only.
    /// </summary>
    /// <param name="x">The chunk: [B, T_chunk, I] if batch_first, else [T_chunk, B, I].</param>
    /// <param name="state">The state after the previous chunk (not disposed here), or null to start from zeros.</param>
    /// <returns>The chunk's output (shaped as <c>Forward</c>'s) and the state after its last step; dispose both.</returns>
    public (Tensor<T> Output, RecurrentState<T> State) Step(Tensor<T> x, RecurrentState<T>? state = null) => _engine.Step(this, x, state);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the parameters and workspaces.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
            _engine.Dispose();
    }

    /// <summary>Checks the inputs, then runs the engine's forward pass into a new result.</summary>
    private protected TResult RunForward<TResult>(
        Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0, bool training, IReadOnlyList<int>? lengths,
        Func<int, int, LengthPlan?, TResult> create)
        where TResult : RecurrentResult<T>
    {
        var (steps, batch) = _engine.CheckInputs(x, h0, c0);
        var result = create(steps, batch, LengthPlan.For(lengths, steps, batch));
        try
        {
            _engine.Forward(x, h0, c0, training, result);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Checks the gradients, then runs the engine's backward pass into <paramref name="grads"/>.</summary>
    private protected TGrads RunBackward<TGrads>(
        RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN, TGrads grads)
        where TGrads : RecurrentGradients<T>
    {
        try
        {
            _engine.CheckBackward(forward, this, dOutput, dHN, dCN);
            _engine.Backward(forward, dOutput, dHN, dCN, grads);
            return grads;
        }
        catch
        {
            grads.Dispose();
            throw;
        }
    }
}
