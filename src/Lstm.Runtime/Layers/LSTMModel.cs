using Lstm.Runtime.Backends;
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
public sealed class LSTMModel<T> : LstmLinearModel<T> where T : unmanaged
{
    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public LSTMModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed = 0)
        : base(device, inputSize, hiddenSize, numLayers, outputSize, seed)
    {
    }

    /// <inheritdoc/>
    public override Models.SequenceOutput Output => Models.SequenceOutput.LastStep;

    /// <summary>The last step's output of the top layer, h_n[top]: [B, H].</summary>
    private protected override (BufferSlice<T> Input, int Rows) HeadInput(LSTMResult<T> result)
    {
        long stepSize = (long)result.Batch * Lstm.Options.HiddenSize;
        return (result.HN.Data.Slice((Lstm.Options.NumLayers - 1) * stepSize, stepSize), result.Batch);
    }

    /// <summary>The gradient enters through h_n[top] only.</summary>
    private protected override void BackwardLstm(LSTMResult<T> forward, Tensor<T> dHead)
    {
        int layers = Lstm.Options.NumLayers;
        long stepSize = (long)forward.Batch * Lstm.Options.HiddenSize;
        using var dhn = Tensor<T>.Zeros(Device, layers, forward.Batch, Lstm.Options.HiddenSize);
        Device.Ops<T>().Copy(dHead.Data, dhn.Data.Slice((layers - 1) * stepSize, stepSize));
        using var grads = Lstm.Backward(forward, dOutput: null, dHN: dhn, dCN: null);
    }
}
