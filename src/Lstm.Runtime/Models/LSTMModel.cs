using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>
/// Sequence to one: a batch-first <see cref="LSTM{T}"/> followed by a <see cref="Linear{T}"/> on
/// the last step's output. x [B, T, I] → y [B, O]. State-dict names: <c>lstm.weight_ih_l0</c> …,
/// <c>fc.weight</c>, <c>fc.bias</c>, as the PyTorch module
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c>.
/// A <see cref="SequenceNetwork{T}"/> of kind sequence-to-one with cell lstm.
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
        : base(device, ModelKind.SequenceToOne, inputSize, hiddenSize, numLayers, outputSize, seed)
    {
    }
}
