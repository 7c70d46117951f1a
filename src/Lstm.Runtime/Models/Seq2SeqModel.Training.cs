using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <content>Teacher forcing: the forward pass over whole target sequences and its backward.</content>
public sealed partial class Seq2SeqModel<T>
{
    /// <summary>
    /// Logits of every target step given the ones before it (teacher forcing).
    /// </summary>
    /// <param name="source">[B, S] source tokens (exact integers in [0, Vs); padding past a length is ignored, conventionally 0).</param>
    /// <param name="sourceLengths">B lengths in [1, S].</param>
    /// <param name="decoderInput">[B, U] target tokens in [0, Vt): BOS, then the target's tokens.</param>
    /// <param name="targetLengths">B lengths in [1, U].</param>
    /// <param name="training">True before a <see cref="Backward"/>; applies dropout.</param>
    /// <returns>[B·U, Vt], row b·U + u; rows at u ≥ targetLengths[b] are zeros.</returns>
    /// <exception cref="LstmException">A shape, length or token is out of range.</exception>
    public Tensor<T> Forward(Tensor<T> source, IReadOnlyList<int> sourceLengths, Tensor<T> decoderInput, IReadOnlyList<int> targetLengths, bool training = false)
    {
        ReleasePass();
        var (batch, steps) = CheckTokens(source, sourceLengths, "source");
        var (_, targetSteps) = CheckTokens(decoderInput, targetLengths, "decoder input", batch);
        var pass = new TrainingPass(batch, steps, targetSteps);
        Tensor<T>? logits = null;
        try
        {
            using (var embedded = EncoderEmbedding.Forward(source))
                pass.Encoder = Encoder.Forward(embedded, training: training, lengths: sourceLengths);
            (pass.H0, pass.C0) = InitialState(pass.Encoder);
            using (var embedded = DecoderEmbedding.Forward(decoderInput))
                pass.Decoder = Decoder.ForwardWithState(embedded, pass.H0, pass.C0, training, targetLengths);
            pass.Keys = Attention.Keys(pass.Encoder.Output.Data, batch, steps);
            pass.RowLengths = Values(Enumerable.Range(0, batch * targetSteps).Select(r => (double)sourceLengths[r / targetSteps]));
            pass.RowMask = Values(Enumerable.Range(0, batch * targetSteps).Select(r => r % targetSteps < targetLengths[r / targetSteps] ? 1.0 : 0.0));
            pass.Attention = Attention.Forward(pass.Decoder.Output.Data, pass.Encoder.Output.Data, pass.Keys.Data, pass.RowLengths.Data, batch, targetSteps, steps);
            logits = Fc.Forward(pass.Attention.Combined.Data, batch * targetSteps);
            Device.Ops<T>().MaskRows(Config.TargetVocabSize, pass.RowMask.Data, logits.Data);
            if (training)
            {
                pass.SourceTokens = CopyOf(source);
                pass.TargetTokens = CopyOf(decoderInput);
                _pass = pass;
                pass = null;
            }

            var result = logits;
            logits = null;
            return result;
        }
        finally
        {
            pass?.Dispose();
            logits?.Dispose();
        }
    }

    /// <summary>
    /// Back-propagates d loss / d logits through the last training <see cref="Forward"/>: adds
    /// every parameter's gradient to its <see cref="Parameter{T}.Grad"/>.
    /// </summary>
    /// <param name="dLogits">[B·U, Vt]; rows past a target length are ignored.</param>
    /// <exception cref="LstmException">dLogits has the wrong shape.</exception>
    /// <exception cref="InvalidOperationException">No training forward pass precedes it.</exception>
    public void Backward(Tensor<T> dLogits)
    {
        ArgumentNullException.ThrowIfNull(dLogits);
        var pass = _pass ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        try
        {
            var ops = Device.Ops<T>();
            int batch = pass.Batch, steps = pass.SourceSteps, targetSteps = pass.TargetSteps, rows = batch * targetSteps;
            int h = Config.HiddenSize, k = Config.Directions * h;
            if (!dLogits.HasShape(rows, Config.TargetVocabSize))
                throw new LstmException($"seq2seq: dLogits has shape {dLogits.ShapeString}, expected [{rows}, {Config.TargetVocabSize}] (B·U rows)");
            using var dy = CopyOf(dLogits);
            ops.MaskRows(Config.TargetVocabSize, pass.RowMask!.Data, dy.Data);
            using var dCombined = Fc.Backward(pass.Attention!.Combined.Data, dy, rows);
            using var dEncoder = Tensor<T>.Zeros(Device, batch, steps, k);
            using var dDecoder = Tensor<T>.Zeros(Device, batch, targetSteps, h);
            Attention.Backward(pass.Attention, pass.Decoder!.Output.Data, pass.Encoder!.Output.Data, pass.Keys!.Data, dCombined.Data, dDecoder.Data, dEncoder.Data);
            using var decoderGrads = Decoder.BackwardWithState(pass.Decoder, dDecoder, null, null);
            DecoderEmbedding.Backward(pass.TargetTokens!, decoderGrads.DX.Data);
            using var dHN = SpreadOverDirections(decoderGrads.DH0);
            using var dCN = decoderGrads.DC0State is { } dc0 ? SpreadOverDirections(dc0) : null;
            using var encoderGrads = Encoder.BackwardWithState(pass.Encoder, dEncoder, dHN, dCN);
            EncoderEmbedding.Backward(pass.SourceTokens!, encoderGrads.DX.Data);
        }
        finally
        {
            ReleasePass();
        }
    }

    /// <summary>The decoder's initial state [L, B, H] (and c for an LSTM): each encoder layer's final state, its directions summed.</summary>
    private (Tensor<T> H, Tensor<T>? C) InitialState(RecurrentResult<T> encoder)
    {
        var h = SumOverDirections(encoder.HN);
        try
        {
            return (h, encoder.CellState is { } c ? SumOverDirections(c) : null);
        }
        catch
        {
            h.Dispose();
            throw;
        }
    }

    /// <summary>[L, B, H] from [L·D, B, H]: the D blocks of each layer added.</summary>
    private Tensor<T> SumOverDirections(Tensor<T> state)
    {
        var ops = Device.Ops<T>();
        int layers = Config.NumLayers, d = Config.Directions, batch = state.Shape[1], h = state.Shape[2];
        long block = (long)batch * h;
        var sum = Tensor<T>.Zeros(Device, layers, batch, h);
        for (int l = 0; l < layers; l++)
        {
            var dst = sum.Data.Slice(l * block, block);
            for (int dir = 0; dir < d; dir++)
                ops.Axpy(Num<T>.One, state.Data.Slice((l * d + dir) * block, block), dst);
        }

        return sum;
    }

    /// <summary>[L·D, B, H] from [L, B, H]: the backward of <see cref="SumOverDirections"/>, each layer's block copied to its D directions.</summary>
    private Tensor<T> SpreadOverDirections(Tensor<T> grad)
    {
        var ops = Device.Ops<T>();
        int layers = Config.NumLayers, d = Config.Directions, batch = grad.Shape[1], h = grad.Shape[2];
        long block = (long)batch * h;
        var spread = Tensor<T>.Zeros(Device, layers * d, batch, h);
        for (int l = 0; l < layers; l++)
        {
            for (int dir = 0; dir < d; dir++)
                ops.Copy(grad.Data.Slice(l * block, block), spread.Data.Slice((l * d + dir) * block, block));
        }

        return spread;
    }

    /// <summary>What one training forward keeps for the backward.</summary>
    private sealed class TrainingPass(int batch, int sourceSteps, int targetSteps) : IDisposable
    {
        public int Batch { get; } = batch;

        public int SourceSteps { get; } = sourceSteps;

        public int TargetSteps { get; } = targetSteps;

        public RecurrentResult<T>? Encoder { get; set; }

        public Tensor<T>? H0 { get; set; }

        public Tensor<T>? C0 { get; set; }

        public RecurrentResult<T>? Decoder { get; set; }

        public Tensor<T>? Keys { get; set; }

        public Tensor<T>? RowLengths { get; set; }

        public Tensor<T>? RowMask { get; set; }

        public AttentionPass<T>? Attention { get; set; }

        public Tensor<T>? SourceTokens { get; set; }

        public Tensor<T>? TargetTokens { get; set; }

        public void Dispose()
        {
            Encoder?.Dispose();
            H0?.Dispose();
            C0?.Dispose();
            Decoder?.Dispose();
            Keys?.Dispose();
            RowLengths?.Dispose();
            RowMask?.Dispose();
            Attention?.Dispose();
            SourceTokens?.Dispose();
            TargetTokens?.Dispose();
        }
    }
}
