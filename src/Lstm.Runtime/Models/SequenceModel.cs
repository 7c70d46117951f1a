using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>
/// Sequence to sequence: a batch-first <see cref="LSTM{T}"/> and a <see cref="Linear{T}"/> on every
/// step, x [B, T, I] → y [B·T, O] (row b·T + t is step t of sample b), as the PyTorch module
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c> returning
/// <c>self.fc(self.lstm(x)[0]).reshape(-1, O)</c>. State-dict names <c>lstm.*</c>, <c>fc.*</c>.
/// A <see cref="SequenceNetwork{T}"/> of kind sequence-to-sequence with cell lstm.
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
        : base(device, ModelKind.SequenceToSequence, inputSize, hiddenSize, numLayers, outputSize, seed)
    {
    }
}
