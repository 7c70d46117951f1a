using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Layers;

/// <summary>
/// The seed's model: a batch-first <see cref="LSTM{T}"/> followed by a <see cref="Linear{T}"/> on
/// the last step's output. x [B, T, I] → y [B, O]. State-dict names: <c>lstm.weight_ih_l0</c> …,
/// <c>fc.weight</c>, <c>fc.bias</c>, as the PyTorch module
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c>.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LSTMModel<T> : IDisposable where T : unmanaged
{
    private LSTMResult<T>? _lastForward;

    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public LSTMModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed = 0)
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

    /// <summary>Every parameter with its full state-dict name (<c>lstm.weight_ih_l0</c>, ..., <c>fc.bias</c>).</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        Lstm.Parameters().Select(p => ("lstm." + p.Name, p)).Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));

    /// <summary>y [B, O] from x [B, T, I]. With <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
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
            int batch = result.Batch;
            int hidden = Lstm.Options.HiddenSize;
            int top = Lstm.Options.NumLayers - 1;
            // The last step's output of the top layer is h_n[top].
            var last = result.HN.Data.Slice((long)top * batch * hidden, (long)batch * hidden);
            var y = Fc.Forward(last, batch);
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

    /// <summary>Back-propagates d loss / d y [B, O] through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">[B, O].</param>
    public void Backward(Tensor<T> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var forward = _lastForward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        int batch = forward.Batch;
        int hidden = Lstm.Options.HiddenSize;
        int layers = Lstm.Options.NumLayers;
        long stepSize = (long)batch * hidden;
        var last = forward.HN.Data.Slice((layers - 1) * stepSize, stepSize);
        using var dLast = Fc.Backward(last, dy, batch);
        using var dhn = Tensor<T>.Zeros(Device, layers, batch, hidden);
        Device.Ops<T>().Copy(dLast.Data, dhn.Data.Slice((layers - 1) * stepSize, stepSize));
        using var grads = Lstm.Backward(forward, dOutput: null, dHN: dhn, dCN: null);
        _lastForward = null;
        forward.Dispose();
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
        _lastForward?.Dispose();
        Lstm.Dispose();
        Fc.Dispose();
    }
}
