using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// A <see cref="Seq2SeqModel{T}"/> as a trainer sees a variable-length model: it reads the
/// batches of <see cref="PairSequences"/> (x [B, T, 2], source and decoder input side by side),
/// runs the encoder-decoder with teacher forcing and returns one row of target logits per step,
/// [B·T, V] (row b·T + u; rows past the decoder's steps are zeros, and their target is
/// <c>&lt;pad&gt;</c>, which the loss weighs 0).
/// </summary>
internal sealed class Seq2SeqBatchModel(Seq2SeqModel<float> model) : IVariableLengthModel<float>
{
    private (int Rows, int Steps, int DecoderSteps)? _last;

    /// <summary>The encoder-decoder.</summary>
    public Seq2SeqModel<float> Model => model;

    /// <inheritdoc/>
    public ComputeDevice Device => model.Device;

    /// <inheritdoc/>
    public SequenceInput Input => SequenceInput.Values;

    /// <inheritdoc/>
    public SequenceOutput Output => SequenceOutput.EveryStep;

    /// <inheritdoc/>
    public int OutputSize => model.Config.TargetVocabSize;

    /// <inheritdoc/>
    public ulong DropoutSeed
    {
        get => model.DropoutSeed;
        set => model.DropoutSeed = value;
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter<float> Parameter)> NamedParameters() => model.NamedParameters();

    /// <inheritdoc/>
    public Tensor<float> Forward(Tensor<float> x, bool training = false) => Forward(x, [], training);

    /// <inheritdoc/>
    public Tensor<float> Forward(Tensor<float> x, IReadOnlyList<int> lengths, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Shape.Count != 3 || x.Shape[2] != 2)
            throw new LstmException($"encoder-decoder batch: x {x.ShapeString} is not [B, T, 2] (a source and a decoder token per step)");
        int rows = x.Shape[0], steps = x.Shape[1];
        var (source, sourceLengths, s, decoder, decoderLengths, u) = PairSequences.Split(x.ToArray(), rows);
        using var sourceTensor = Tensor<float>.FromArray(Device, source, rows, s);
        using var decoderTensor = Tensor<float>.FromArray(Device, decoder, rows, u);
        var logits = model.Forward(sourceTensor, sourceLengths, decoderTensor, decoderLengths, training);
        _last = training ? (rows, steps, u) : null;
        if (u == steps)
            return logits;
        using (logits)
            return Regroup(logits, rows, u, steps);
    }

    /// <inheritdoc/>
    public void Backward(Tensor<float> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var (rows, steps, u) = _last ?? throw new LstmException("encoder-decoder batch: Backward without a training Forward");
        if (u == steps)
        {
            model.Backward(dy);
            return;
        }

        using var grad = Regroup(dy, rows, steps, u);
        model.Backward(grad);
    }

    /// <inheritdoc/>
    public void ZeroGrad()
    {
        foreach (var (_, p) in model.NamedParameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose() => model.Dispose();

    /// <summary>[B·from, V] as [B·to, V]: each row's first min(from, to) steps kept, the rest zeros.</summary>
    private Tensor<float> Regroup(Tensor<float> rowsIn, int rows, int from, int to)
    {
        int v = OutputSize;
        var values = rowsIn.ToArray();
        var result = new float[rows * to * v];
        int keep = Math.Min(from, to) * v;
        for (int b = 0; b < rows; b++)
            values.AsSpan(b * from * v, keep).CopyTo(result.AsSpan(b * to * v, keep));
        return Tensor<float>.FromArray(Device, result, rows * to, v);
    }
}

/// <summary>A <see cref="Seq2SeqModel{T}"/>'s decoding state over a batch of sources, as <see cref="Seq2SeqDecoding"/> steps it.</summary>
internal sealed class ModelStepDecoder : IStepDecoder
{
    private readonly Seq2SeqModel<float> _model;
    private Seq2SeqState<float> _state;

    /// <summary>Encodes the sources (token ids, none empty) and stands before the first target token.</summary>
    /// <param name="model">The model.</param>
    /// <param name="sources">The sources.</param>
    public ModelStepDecoder(Seq2SeqModel<float> model, IReadOnlyList<int[]> sources)
    {
        _model = model;
        int s = sources.Max(x => x.Length);
        var ids = new float[sources.Count * s];
        for (int b = 0; b < sources.Count; b++)
        {
            for (int k = 0; k < sources[b].Length; k++)
                ids[(b * s) + k] = sources[b][k];
        }

        using var tensor = Tensor<float>.FromArray(model.Device, ids, sources.Count, s);
        _state = model.Encode(tensor, sources.Select(x => x.Length).ToArray());
    }

    /// <inheritdoc/>
    public int VocabSize => _model.Config.TargetVocabSize;

    /// <inheritdoc/>
    public float[] Step(ReadOnlySpan<int> previous)
    {
        using var logits = _model.Step(_state, previous);
        return logits.ToArray();
    }

    /// <inheritdoc/>
    public void Select(ReadOnlySpan<int> rows)
    {
        var kept = _state.Select(rows);
        _state.Dispose();
        _state = kept;
    }

    /// <inheritdoc/>
    public void Dispose() => _state.Dispose();
}
