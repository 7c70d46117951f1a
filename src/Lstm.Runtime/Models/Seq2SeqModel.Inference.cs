using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <content>Inference one decoder step at a time: encode once, then step (greedy and beam search).</content>
public sealed partial class Seq2SeqModel<T>
{
    /// <summary>
    /// Runs the encoder over a batch of sources and returns the decoding state: the encoder's
    /// outputs and projected keys, the source lengths, and the decoder's initial state (the
    /// encoder's final state, directions summed). <see cref="Step"/> then advances it.
    /// </summary>
    /// <param name="source">[B, S] source tokens.</param>
    /// <param name="sourceLengths">B lengths in [1, S].</param>
    /// <returns>The state of B rows; dispose it.</returns>
    /// <exception cref="LstmException">A shape, length or token is out of range.</exception>
    public Seq2SeqState<T> Encode(Tensor<T> source, IReadOnlyList<int> sourceLengths)
    {
        var (batch, steps) = CheckTokens(source, sourceLengths, "source");
        RecurrentResult<T>? encoder = null;
        Tensor<T>? output = null, keys = null, lengths = null, h = null, c = null;
        try
        {
            using (var embedded = EncoderEmbedding.Forward(source))
                encoder = Encoder.Forward(embedded, lengths: sourceLengths);
            (h, c) = InitialState(encoder);
            output = encoder.Output;
            encoder.Output = null!;
            keys = Attention.Keys(output.Data, batch, steps);
            lengths = Values(sourceLengths.Select(l => (double)l));
            var state = new Seq2SeqState<T>(Config.Directions * Config.HiddenSize, output, keys, [.. sourceLengths], lengths, new RecurrentState<T>(h, c), null);
            output = keys = lengths = h = c = null;
            return state;
        }
        finally
        {
            encoder?.Dispose();
            output?.Dispose();
            keys?.Dispose();
            lengths?.Dispose();
            h?.Dispose();
            c?.Dispose();
        }
    }

    /// <summary>
    /// One decoder step for every row of the state: feeds each row its previous token, advances
    /// the state by one step, and returns the logits of the next token.
    /// </summary>
    /// <param name="state">The state from <see cref="Encode"/>, <see cref="Seq2SeqState{T}.Select"/> or an earlier step; advanced in place.</param>
    /// <param name="previousTokens">One target token per row (BOS at the first step), in [0, Vt).</param>
    /// <returns>[N, Vt] logits; row i is row i of the state's; dispose it.</returns>
    /// <exception cref="LstmException">A token is out of range, or there is not one per row.</exception>
    public Tensor<T> Step(Seq2SeqState<T> state, ReadOnlySpan<int> previousTokens)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.CheckUsable(Config.Directions * Config.HiddenSize);
        int rows = state.Rows, steps = state.SourceSteps;
        if (previousTokens.Length != rows)
            throw new LstmException($"seq2seq step: {previousTokens.Length} previous tokens for a state of {rows} rows");
        var values = new T[rows];
        for (int i = 0; i < rows; i++)
        {
            if (previousTokens[i] < 0 || previousTokens[i] >= Config.TargetVocabSize)
                throw new LstmException($"seq2seq step: token {previousTokens[i]} of row {i} is not in the target vocabulary [0, {Config.TargetVocabSize})");
            values[i] = Num<T>.From(previousTokens[i]);
        }

        using var tokens = Tensor<T>.FromArray(Device, values, rows, 1);
        using var embedded = DecoderEmbedding.Forward(tokens);
        var (output, next) = Decoder.Step(embedded, state.Recurrent);
        Tensor<T>? alpha = null;
        try
        {
            using (output)
            using (var pass = Attention.Forward(output.Data, state.EncoderOutput.Data, state.Keys.Data, state.Lengths.Data, rows, 1, steps))
            {
                var logits = Fc.Forward(pass.Combined.Data, rows);
                alpha = Tensor<T>.Zeros(Device, rows, steps);
                Device.Ops<T>().Copy(pass.Alpha.Data, alpha.Data);
                state.Advance(next, alpha);
                next = null!;
                alpha = null;
                return logits;
            }
        }
        finally
        {
            next?.Dispose();
            alpha?.Dispose();
        }
    }
}
