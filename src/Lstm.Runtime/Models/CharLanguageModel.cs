using Lstm.Runtime.Devices;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A character language model: <see cref="Embedding{T}"/> [V, E] → batch-first
/// <see cref="LSTM{T}"/> (E → H, L layers) → <see cref="Linear{T}"/> (H → V) on every step, trained
/// with <see cref="Training.CrossEntropyLoss"/> on the next character. tokens [B, T] → logits
/// [B·T, V] (row b·T + t). State-dict names <c>embedding.weight</c>, <c>lstm.*</c>, <c>fc.*</c>.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CharLanguageModel<T> : ISequenceModel<T> where T : unmanaged
{
    private LSTMResult<T>? _lastForward;
    private Tensor<T>? _lastTokens;

    /// <summary>Creates the model with PyTorch's initializations drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="vocabSize">V.</param>
    /// <param name="embeddingDim">E.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public CharLanguageModel(ComputeDevice device, int vocabSize, int embeddingDim, int hiddenSize, int numLayers, int seed = 0)
    {
        Embedding = new Embedding<T>(device, vocabSize, embeddingDim, seed);
        Lstm = new LSTM<T>(device, new LSTMOptions(embeddingDim, hiddenSize, numLayers, Bias: true, BatchFirst: true), seed + 1);
        Fc = new Linear<T>(device, hiddenSize, vocabSize, seed + 2);
    }

    /// <summary>The character table.</summary>
    public Embedding<T> Embedding { get; }

    /// <summary>The recurrent part.</summary>
    public LSTM<T> Lstm { get; }

    /// <summary>The output layer (logits over the vocabulary).</summary>
    public Linear<T> Fc { get; }

    /// <summary>V.</summary>
    public int VocabSize => Embedding.NumEmbeddings;

    /// <summary>The device.</summary>
    public ComputeDevice Device => Lstm.Device;

    /// <inheritdoc/>
    public SequenceInput Input => SequenceInput.Tokens;

    /// <inheritdoc/>
    public SequenceOutput Output => SequenceOutput.EveryStep;

    /// <inheritdoc/>
    public int OutputSize => VocabSize;

    /// <inheritdoc/>
    public ulong DropoutSeed
    {
        get => Lstm.DropoutSeed;
        set => Lstm.DropoutSeed = value;
    }

    /// <summary>Every parameter with its state-dict name.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        Embedding.Parameters().Select(p => ("embedding." + p.Name, p))
            .Concat(Lstm.Parameters().Select(p => ("lstm." + p.Name, p)))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));

    /// <summary>logits [B·T, V] from tokens [B, T]; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
    /// <param name="tokens">[B, T] character ids as exact integers of T.</param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    public Tensor<T> Forward(Tensor<T> tokens, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Shape.Count != 2)
            throw new LstmException($"language model: tokens have shape {tokens.ShapeString}, expected [B, T]");
        ReleaseForward();
        using var embedded = Embedding.Forward(tokens);
        var result = Lstm.Forward(embedded, training: training);
        try
        {
            var logits = Fc.Forward(result.Output.Data, result.Batch * result.Steps);
            if (training)
            {
                _lastForward = result;
                _lastTokens = Tensor<T>.Zeros(Device, tokens.Shape.ToArray());
                Device.Ops<T>().Copy(tokens.Data, _lastTokens.Data);
            }
            else
            {
                result.Dispose();
            }

            return logits;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Back-propagates d loss / d logits [B·T, V] through the last training forward, adding to every gradient.</summary>
    /// <param name="dLogits">[B·T, V].</param>
    public void Backward(Tensor<T> dLogits)
    {
        ArgumentNullException.ThrowIfNull(dLogits);
        var forward = _lastForward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        var tokens = _lastTokens!;
        int rows = forward.Batch * forward.Steps;
        if (!dLogits.HasShape(rows, VocabSize))
            throw new LstmException($"language model: dLogits has shape {dLogits.ShapeString}, expected [{rows}, {VocabSize}]");
        _lastForward = null;
        _lastTokens = null;
        try
        {
            using var dOut = Fc.Backward(forward.Output.Data, dLogits, rows);
            using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Lstm.Options.HiddenSize);
            Device.Ops<T>().Copy(dOut.Data, dOutput.Data);
            using var grads = Lstm.Backward(forward, dOutput);
            Embedding.Backward(tokens, grads.DX.Data);
        }
        finally
        {
            forward.Dispose();
            tokens.Dispose();
        }
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    private void ReleaseForward()
    {
        _lastForward?.Dispose();
        _lastForward = null;
        _lastTokens?.Dispose();
        _lastTokens = null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleaseForward();
        Embedding.Dispose();
        Lstm.Dispose();
        Fc.Dispose();
    }
}
