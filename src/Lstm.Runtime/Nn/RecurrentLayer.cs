using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// What <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> and <see cref="RNN{T}"/> share: the engine
/// that runs their time loop, their parameters, the dropout seed, streaming inference, and
/// <c>Forward</c>/<c>Backward</c>, so that a network drives any of them alike (an LSTM's
/// overrides return <see cref="LSTMResult{T}"/> and <see cref="LSTMGradients{T}"/>).
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
    /// Left at the default, a pass whose every layer the device runs as one persistent LSTM loop
    /// runs layer after layer instead; set explicitly, the wavefront runs wherever it can.
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

    /// <summary>Runs the layer over a sequence from h0 (an LSTM's c0 is zeros).</summary>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I]; T ≥ 1.</param>
    /// <param name="h0">[L·D, B, H_out] or null for zeros.</param>
    /// <param name="training">True keeps what <c>Backward</c> needs and applies dropout; false stores nothing per step.</param>
    /// <param name="lengths">
    /// Null: every sequence has T steps. Else one length per sequence (any order), each in [0, T],
    /// with PyTorch's packed-sequence semantics: output past a length is 0, h_n (c_n) is each
    /// sequence's state at its own last step (h0/c0 for length 0), the reverse direction starts at
    /// each sequence's own end, and backward ignores the padding.
    /// </param>
    /// <returns>output ([B, T, D·H_out] or [T, B, D·H_out]) and h_n ([L·D, B, H_out]) (an LSTM's also c_n); dispose it when done.</returns>
    public virtual RecurrentResult<T> Forward(Tensor<T> x, Tensor<T>? h0 = null, bool training = false, IReadOnlyList<int>? lengths = null)
        => ForwardWithState(x, h0, null, training, lengths);

    /// <summary>
    /// Back-propagates through a training <c>Forward</c> (an LSTM's dc_n is zeros): returns the
    /// gradients of x and h0 (an LSTM's also c0) and adds each parameter's gradient to its
    /// <see cref="Parameter{T}.Grad"/>.
    /// </summary>
    /// <param name="forward">The result of <c>Forward(..., training: true)</c> on this layer.</param>
    /// <param name="dOutput">d loss / d output, shaped like output; null for zeros.</param>
    /// <param name="dHN">d loss / d h_n, [L·D, B, H_out]; null for zeros.</param>
    /// <returns>dx (shaped like x) and dh0 ([L·D, B, H_out]); dispose it when done.</returns>
    public virtual RecurrentGradients<T> Backward(RecurrentResult<T> forward, Tensor<T>? dOutput = null, Tensor<T>? dHN = null)
        => BackwardWithState(forward, dOutput, dHN, null);

    /// <summary>Checks the inputs, then runs the forward pass from h0 and c0 (an LSTM's; null otherwise) into a new result.</summary>
    internal RecurrentResult<T> ForwardWithState(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0, bool training, IReadOnlyList<int>? lengths)
    {
        var (steps, batch) = _engine.CheckInputs(x, h0, c0);
        var result = NewResult(steps, batch, training, LengthPlan.For(lengths, steps, batch));
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

    /// <summary>Checks the gradients, then runs the backward pass from dh_n and dc_n (an LSTM's; null otherwise).</summary>
    internal RecurrentGradients<T> BackwardWithState(RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN)
    {
        var grads = NewGradients();
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

    /// <summary>A new, empty result of this layer's kind.</summary>
    private protected virtual RecurrentResult<T> NewResult(int steps, int batch, bool training, LengthPlan? plan) => new(this, steps, batch, training, plan);

    /// <summary>New, empty gradients of this layer's kind.</summary>
    private protected virtual RecurrentGradients<T> NewGradients() => new();
}
