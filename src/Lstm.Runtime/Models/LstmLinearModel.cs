using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>
/// A batch-first <see cref="LSTM{T}"/> followed by a <see cref="Linear{T}"/> (PyTorch's
/// <c>self.lstm = nn.LSTM(I, H, L, batch_first=True); self.fc = nn.Linear(H, O)</c>), with
/// state-dict names <c>lstm.*</c> and <c>fc.*</c>: a <see cref="SequenceNetwork{T}"/> with cell
/// <c>lstm</c> whose kind says what the linear layer reads.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class LstmLinearModel<T> : SequenceNetwork<T> where T : unmanaged
{
    /// <summary>Creates the model with PyTorch's initialization drawn from <paramref name="seed"/> (the LSTM) and <paramref name="seed"/> + 1 (the linear layer).</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="kind">sequence-to-one or sequence-to-sequence.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="outputSize">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    private protected LstmLinearModel(ComputeDevice device, ModelKind kind, int inputSize, int hiddenSize, int numLayers, int outputSize, int seed)
        : base(device, new ModelConfig(kind, CellKind.Lstm, inputSize, hiddenSize, outputSize, numLayers), seed)
    {
    }

    /// <summary>The recurrent part.</summary>
    public LSTM<T> Lstm => (LSTM<T>)Recurrent;
}
