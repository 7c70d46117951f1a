using Lstm.Runtime.Devices;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// Sequence to sequence: a batch-first <see cref="LSTM{T}"/> and a <see cref="Linear{T}"/> on every
/// step, x [B, T, I] → y [B·T, O] (row b·T + t is step t of sample b), as the PyTorch module
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c> returning
/// <c>self.fc(self.lstm(x)[0]).reshape(-1, O)</c>. State-dict names <c>lstm.*</c>, <c>fc.*</c>.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class SequenceModel<T> : IDisposable where T : unmanaged
{
    private LSTMResult<T>? _lastForward;

    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public SequenceModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed = 0)
    {
        Lstm = new LSTM<T>(device, new LSTMOptions(inputSize, hiddenSize, numLayers, Bias: true, BatchFirst: true), seed);
        Fc = new Linear<T>(device, hiddenSize, outputSize, seed + 1);
    }

    /// <summary>The recurrent part.</summary>
    public LSTM<T> Lstm { get; }

    /// <summary>The per-step output layer.</summary>
    public Linear<T> Fc { get; }

    /// <summary>The device.</summary>
    public ComputeDevice Device => Lstm.Device;

    /// <summary>Every parameter with its state-dict name.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        Lstm.Parameters().Select(p => ("lstm." + p.Name, p)).Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));

    /// <summary>y [B·T, O] from x [B, T, I]; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
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
            var y = Fc.Forward(result.Output.Data, result.Batch * result.Steps);
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

    /// <summary>Back-propagates d loss / d y [B·T, O] through the last training forward, adding to every gradient.</summary>
    /// <param name="dy">[B·T, O].</param>
    public void Backward(Tensor<T> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var forward = _lastForward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        int rows = forward.Batch * forward.Steps;
        if (!dy.HasShape(rows, Fc.OutFeatures))
            throw new LstmException($"sequence model: dy has shape {dy.ShapeString}, expected [{rows}, {Fc.OutFeatures}]");
        _lastForward = null;
        try
        {
            using var dOut = Fc.Backward(forward.Output.Data, dy, rows);
            using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Lstm.Options.HiddenSize);
            Device.Ops<T>().Copy(dOut.Data, dOutput.Data);
            using var grads = Lstm.Backward(forward, dOutput);
        }
        finally
        {
            forward.Dispose();
        }
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        Lstm.ZeroGrad();
        foreach (var p in Fc.Parameters())
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
