using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>
/// A character language model: <see cref="Embedding{T}"/> [V, E] → batch-first
/// <see cref="LSTM{T}"/> (E → H, L layers) → <see cref="Linear{T}"/> (H → V) on every step, trained
/// with <see cref="Training.CrossEntropyLoss"/> on the next character. tokens [B, T] → logits
/// [B·T, V] (row b·T + t). State-dict names <c>embedding.weight</c>, <c>lstm.*</c>, <c>fc.*</c>.
/// A <see cref="SequenceNetwork{T}"/> of kind language-model with cell lstm.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CharLanguageModel<T> : SequenceNetwork<T> where T : unmanaged
{
    /// <summary>Creates the model with PyTorch's initializations drawn from <paramref name="seed"/> (embedding), + 1 (LSTM), + 2 (linear).</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="vocabSize">V.</param>
    /// <param name="embeddingDim">E.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public CharLanguageModel(ComputeDevice device, int vocabSize, int embeddingDim, int hiddenSize, int numLayers, int seed = 0)
        : base(device, ModelConfig.LanguageModel(CellKind.Lstm, vocabSize, embeddingDim, hiddenSize, numLayers), seed)
    {
    }

    /// <summary>The character table [V, E].</summary>
    public new Embedding<T> Embedding => base.Embedding!;

    /// <summary>The recurrent part.</summary>
    public LSTM<T> Lstm => (LSTM<T>)Recurrent;

    /// <summary>V.</summary>
    public int VocabSize => Config.VocabSize;
}
