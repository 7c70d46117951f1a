using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Layers;

/// <summary>
/// A batch-first <see cref="LSTM{T}"/> followed by a <see cref="Linear{T}"/> (PyTorch's
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c>), with
/// state-dict names <c>lstm.*</c> and <c>fc.*</c>. Subclasses choose which of the LSTM's outputs
/// the linear layer reads and how its gradient flows back.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class LstmLinearModel<T> : Models.ISequenceModel<T> where T : unmanaged
{
    private LSTMResult<T>? _lastForward;

    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    private protected LstmLinearModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed)
    {
        Lstm = new LSTM<T>(device, new LSTMOptions(inputSize, hiddenSize, numLayers, Bias: true, BatchFirst: true), seed);
        Fc = new Linear<T>(device, hiddenSize, outputSize, seed + 1);
    }

    /// <summary>The recurrent part.</summary>
    public LSTM<T> Lstm { get; }

    /// <summary>The output layer.</summary>
    public Linear<T> Fc { get; }

    /// <summary>The device.</summary>
    public ComputeDevice Device => Lstm.Device;

    /// <inheritdoc/>
    public Models.SequenceInput Input => Models.SequenceInput.Values;

    /// <inheritdoc/>
    public abstract Models.SequenceOutput Output { get; }

    /// <inheritdoc/>
    public int OutputSize => Fc.OutFeatures;

    /// <inheritdoc/>
    public ulong DropoutSeed
    {
        get => Lstm.DropoutSeed;
        set => Lstm.DropoutSeed = value;
    }

    /// <summary>Every parameter with its full state-dict name (<c>lstm.weight_ih_l0</c>, ..., <c>fc.bias</c>).</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        Lstm.Parameters().Select(p => ("lstm." + p.Name, p)).Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));

    /// <summary>y from x [B, T, I]; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
    /// <param name="x">[B, T, I].</param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        _lastForward?.Dispose();
        _lastForward = null;
        var result = Lstm.Forward(x, training: training);
        try
        {
            var (head, rows) = HeadInput(result);
            var y = Fc.Forward(head, rows);
            if (training)
                _lastForward = result;
            else
                result.Dispose();
            return y;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Back-propagates d loss / d y through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">Shaped like y.</param>
    public void Backward(Tensor<T> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var forward = _lastForward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        var (head, rows) = HeadInput(forward);
        CheckOutputGradient(dy, rows);
        _lastForward = null;
        try
        {
            using var dHead = Fc.Backward(head, dy, rows);
            BackwardLstm(forward, dHead);
        }
        finally
        {
            forward.Dispose();
        }
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the layers and the kept forward pass.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        _lastForward?.Dispose();
        Lstm.Dispose();
        Fc.Dispose();
    }

    /// <summary>What the linear layer reads from the LSTM's result: [rows, H].</summary>
    private protected abstract (Backends.BufferSlice<T> Input, int Rows) HeadInput(LSTMResult<T> result);

    /// <summary>Throws when dy is not [rows, O]; the default leaves the check to the linear layer.</summary>
    private protected virtual void CheckOutputGradient(Tensor<T> dy, int rows)
    {
    }

    /// <summary>Runs the LSTM's backward pass from the gradient of the linear layer's input ([rows, H]).</summary>
    private protected abstract void BackwardLstm(LSTMResult<T> forward, Tensor<T> dHead);
}
