using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The encoder-decoder with attention: every parameter's gradient against finite differences in
/// float64 (both attentions, LSTM and GRU, one or two directions, padded sources and targets),
/// padding that changes nothing, step-by-step decoding equal to teacher forcing on every device,
/// state selection, save and load, and float32 on every device against float64.
/// </summary>
public class Seq2SeqModelTests
{
    private const int Vs = 7, Vt = 6;

    /// <summary>A padded batch: tokens in [1, V) up to each length, 0 past it.</summary>
    internal static double[] Tokens(Random rng, int[] lengths, int steps, int vocab)
    {
        var tokens = new double[lengths.Length * steps];
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
                tokens[b * steps + t] = rng.Next(1, vocab);
        }

        return tokens;
    }

    internal static ModelConfig Config(CellKind cell, AttentionKind attention, bool bidirectional, int layers, int hidden = 4) =>
        ModelConfig.EncoderDecoder(cell, Vs, Vt, embeddingDim: 3, hiddenSize: hidden, attention, numLayers: layers, bidirectional: bidirectional);

    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Luong, false, 1)]
    [InlineData(CellKind.Lstm, AttentionKind.Bahdanau, true, 2)]
    [InlineData(CellKind.Gru, AttentionKind.Luong, true, 2)]
    [InlineData(CellKind.Gru, AttentionKind.Bahdanau, false, 1)]
    public void ParameterGradients_MatchFiniteDifferences(CellKind cell, AttentionKind attention, bool bidirectional, int layers)
    {
        var dev = TestDevices.Get("cpu");
        const int B = 3, S = 5, U = 4;
        int[] sourceLengths = [5, 2, 3], targetLengths = [2, 4, 1];
        var rng = new Random(17);
        var source = Tokens(rng, sourceLengths, S, Vs);
        var target = Tokens(rng, targetLengths, U, Vt);
        var weights = Enumerable.Range(0, B * U * Vt).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        using var model = new Seq2SeqModel<double>(dev, Config(cell, attention, bidirectional, layers), seed: 3);
        using var src = Tensor<double>.FromArray(dev, source, B, S);
        using var tgt = Tensor<double>.FromArray(dev, target, B, U);
        double Loss()
        {
            using var logits = model.Forward(src, sourceLengths, tgt, targetLengths);
            return logits.ToArray().Select((v, i) => v * weights[i]).Sum();
        }

        model.ZeroGrad();
        using (var logits = model.Forward(src, sourceLengths, tgt, targetLengths, training: true))
        using (var dLogits = Tensor<double>.FromArray(dev, weights, B * U, Vt))
            model.Backward(dLogits);

        const double h = 1e-6;
        int checkedParameters = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            int stride = Math.Max(1, values.Length / 9);
            for (int i = checkedParameters % stride; i < values.Length; i += stride)
            {
                double v = values[i];
                values[i] = v + h;
                p.Value.CopyFrom(values);
                double up = Loss();
                values[i] = v - h;
                p.Value.CopyFrom(values);
                double down = Loss();
                values[i] = v;
                p.Value.CopyFrom(values);
                double numeric = (up - down) / (2 * h);
                Assert.True(Math.Abs(numeric - analytic[i]) < 1e-7 + 1e-5 * Math.Abs(numeric), $"{name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
            }

            Assert.Contains(analytic, g => g != 0);
            checkedParameters++;
        }

        int directions = bidirectional ? 2 : 1;
        Assert.Equal(2 + 4 * layers * directions + 4 * layers + (attention == AttentionKind.Luong ? 1 : 3) + 1 + 2, checkedParameters);
    }
}
