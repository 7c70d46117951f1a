using Lstm.Runtime.Backends;
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
public sealed class SequenceModel<T> : LstmLinearModel<T> where T : unmanaged
{
    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public SequenceModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed = 0)
        : base(device, inputSize, hiddenSize, numLayers, outputSize, seed)
    {
    }

    /// <inheritdoc/>
    public override SequenceOutput Output => SequenceOutput.EveryStep;

    /// <summary>Every step's output: [B·T, H].</summary>
    private protected override (BufferSlice<T> Input, int Rows) HeadInput(LSTMResult<T> result) =>
        (result.Output.Data, result.Batch * result.Steps);

    /// <summary>dy must be [B·T, O].</summary>
    private protected override void CheckOutputGradient(Tensor<T> dy, int rows)
    {
        if (!dy.HasShape(rows, Fc.OutFeatures))
            throw new LstmException($"sequence model: dy has shape {dy.ShapeString}, expected [{rows}, {Fc.OutFeatures}]");
    }

    /// <summary>The gradient enters through every step's output.</summary>
    private protected override void BackwardLstm(LSTMResult<T> forward, Tensor<T> dHead)
    {
        using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Lstm.Options.HiddenSize);
        Device.Ops<T>().Copy(dHead.Data, dOutput.Data);
        using var grads = Lstm.Backward(forward, dOutput);
    }
}
