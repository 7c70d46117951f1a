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
    [InlineData(CellKind.Lstm, AttentionKind.Luong, true, 2, 0.4)]
    [InlineData(CellKind.Gru, AttentionKind.Bahdanau, true, 1, 0, false)]
    public void ParameterGradients_MatchFiniteDifferences(CellKind cell, AttentionKind attention, bool bidirectional, int layers, double dropout = 0, bool bias = true) =>
        CheckGradients("cpu", cell, attention, bidirectional, layers, dropout, bias);

    public static IEnumerable<object[]> DeviceNames() => TestDevices.Names();

    /// <summary>
    /// The same check in float64 through each device's own kernels (the additive scores, the masked
    /// softmax, tanh, the batched products, the cells), at three elements of every parameter.
    /// </summary>
    [Theory]
    [MemberData(nameof(DeviceNames))]
    public void ParameterGradients_MatchFiniteDifferences_OnEveryDevice(string device) =>
        CheckGradients(device, CellKind.Lstm, AttentionKind.Bahdanau, bidirectional: true, layers: 1, samples: 3);

    private static void CheckGradients(string device, CellKind cell, AttentionKind attention, bool bidirectional, int layers, double dropout = 0, bool bias = true, int samples = 9)
    {
        var dev = TestDevices.Get(device);
        const int B = 3, S = 5, U = 4;
        int[] sourceLengths = [5, 2, 3], targetLengths = [2, 4, 1];
        var rng = new Random(17);
        var source = Tokens(rng, sourceLengths, S, Vs);
        var target = Tokens(rng, targetLengths, U, Vt);
        var weights = Enumerable.Range(0, B * U * Vt).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        using var model = new Seq2SeqModel<double>(dev, Config(cell, attention, bidirectional, layers) with { Dropout = dropout, Bias = bias }, seed: 3);
        using var src = Tensor<double>.FromArray(dev, source, B, S);
        using var tgt = Tensor<double>.FromArray(dev, target, B, U);

        // With dropout, every pass is a training pass with the same seed: the same masks each time.
        bool training = dropout > 0;
        double Loss()
        {
            model.DropoutSeed = 77;
            using var logits = model.Forward(src, sourceLengths, tgt, targetLengths, training);
            return logits.ToArray().Select((v, i) => v * weights[i]).Sum();
        }

        model.ZeroGrad();
        model.DropoutSeed = 77;
        using (var logits = model.Forward(src, sourceLengths, tgt, targetLengths, training: true))
        using (var dLogits = Tensor<double>.FromArray(dev, weights, B * U, Vt))
            model.Backward(dLogits);

        const double h = 1e-6;
        int checkedParameters = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            int stride = Math.Max(1, values.Length / samples);
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
                Assert.True(Math.Abs(numeric - analytic[i]) < 1e-7 + 1e-5 * Math.Abs(numeric), $"{device}: {name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
            }

            Assert.Contains(analytic, g => g != 0);
            checkedParameters++;
        }

        int directions = bidirectional ? 2 : 1;
        int perDirection = bias ? 4 : 2;
        Assert.Equal(2 + perDirection * layers * directions + perDirection * layers + (attention == AttentionKind.Luong ? 1 : 3) + 1 + 2, checkedParameters);
    }

    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Bahdanau, true)]
    [InlineData(CellKind.Gru, AttentionKind.Luong, false)]
    public void Padding_ChangesNeitherLogitsNorGradients(CellKind cell, AttentionKind attention, bool bidirectional)
    {
        var dev = TestDevices.Get("cpu");
        const int B = 3, S = 6, U = 5;
        int[] sourceLengths = [2, 6, 4], targetLengths = [5, 1, 3];
        var rng = new Random(23);
        var source = Tokens(rng, sourceLengths, S, Vs);
        var target = Tokens(rng, targetLengths, U, Vt);
        var dLogits = Enumerable.Range(0, B * U * Vt).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        using var model = new Seq2SeqModel<double>(dev, Config(cell, attention, bidirectional, 2), seed: 8);
        (double[] Logits, double[] Grads) Run(double[] src, double[] tgt, int steps, int targetSteps)
        {
            model.ZeroGrad();
            using var s = Tensor<double>.FromArray(dev, src, B, steps);
            using var t = Tensor<double>.FromArray(dev, tgt, B, targetSteps);
            using var logits = model.Forward(s, sourceLengths, t, targetLengths, training: true);
            using var d = Tensor<double>.FromArray(dev, dLogits.Take(B * targetSteps * Vt).ToArray(), B * targetSteps, Vt);
            model.Backward(d);
            return (logits.ToArray(), model.NamedParameters().SelectMany(p => p.Parameter.Grad.ToArray()).ToArray());
        }

        var (logits, grads) = Run(source, target, S, U);
        for (int b = 0; b < B; b++)
        {
            for (int u = targetLengths[b]; u < U; u++)
                Assert.All(logits.Skip((b * U + u) * Vt).Take(Vt), v => Assert.Equal(0, v));
        }

        // Other tokens past every length: the same numbers, bit for bit.
        var otherSource = (double[])source.Clone();
        var otherTarget = (double[])target.Clone();
        for (int b = 0; b < B; b++)
        {
            for (int t = sourceLengths[b]; t < S; t++)
                otherSource[b * S + t] = rng.Next(1, Vs);
            for (int u = targetLengths[b]; u < U; u++)
                otherTarget[b * U + u] = rng.Next(1, Vt);
        }

        var (logits2, grads2) = Run(otherSource, otherTarget, S, U);
        Assert.Equal(logits, logits2);
        Assert.Equal(grads, grads2);

        // Two more padded source steps: the same numbers to rounding.
        var wider = new double[B * (S + 2)];
        for (int b = 0; b < B; b++)
            Array.Copy(source, b * S, wider, b * (S + 2), S);
        var (logits3, grads3) = Run(wider, target, S + 2, U);
        Assert.True(Numerics.MaxAbsError(logits3, logits) < 1e-13, "logits with more source padding");
        Assert.True(Numerics.MaxAbsError(grads3, grads) < 1e-12, "gradients with more source padding");
    }

    [Fact]
    public void SaveAndLoad_RoundTrip_WithPyTorchNames()
    {
        var dev = TestDevices.Get("cpu");
        string dir = Directory.CreateTempSubdirectory("lstm-s2s-").FullName;
        try
        {
            var config = Config(CellKind.Gru, AttentionKind.Bahdanau, true, 1);
            using var model = new Seq2SeqModel<float>(dev, config, seed: 4);
            Assert.Equal(
                [
                    "encoder_embedding.weight", "encoder.weight_ih_l0", "encoder.weight_hh_l0", "encoder.bias_ih_l0", "encoder.bias_hh_l0",
                    "encoder.weight_ih_l0_reverse", "encoder.weight_hh_l0_reverse", "encoder.bias_ih_l0_reverse", "encoder.bias_hh_l0_reverse",
                    "decoder_embedding.weight", "decoder.weight_ih_l0", "decoder.weight_hh_l0", "decoder.bias_ih_l0", "decoder.bias_hh_l0",
                    "attention.query.weight", "attention.key.weight", "attention.v.weight", "attention_combine.weight", "fc.weight", "fc.bias",
                ],
                model.NamedParameters().Select(p => p.Name));
            var shapes = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Shape.ToArray());
            Assert.Equal([4, 8], shapes["attention.key.weight"]);
            Assert.Equal([1, 4], shapes["attention.v.weight"]);
            Assert.Equal([4, 12], shapes["attention_combine.weight"]);
            Assert.Equal([Vt, 4], shapes["fc.weight"]);
            model.Save(dir);
            string json = File.ReadAllText(Path.Combine(dir, "config.json"));
            Assert.Contains("\"kind\": \"seq2seq\"", json);
            Assert.Contains("\"attention\": \"bahdanau\"", json);
            Assert.Contains("\"target_vocab_size\": 6", json);

            int[] sourceLengths = [3, 1], targetLengths = [2, 3];
            var rng = new Random(2);
            using var src = Tensor<float>.FromArray(dev, Tokens(rng, sourceLengths, 3, Vs).Select(v => (float)v).ToArray(), 2, 3);
            using var tgt = Tensor<float>.FromArray(dev, Tokens(rng, targetLengths, 3, Vt).Select(v => (float)v).ToArray(), 2, 3);
            using var expected = model.Forward(src, sourceLengths, tgt, targetLengths);
            foreach (string path in new[] { dir, Path.Combine(dir, "config.json"), Path.Combine(dir, "model.safetensors") })
            {
                using var loaded = Seq2SeqModel<float>.Load(dev, path);
                Assert.Equal(config, loaded.Config);
                using var logits = loaded.Forward(src, sourceLengths, tgt, targetLengths);
                Assert.Equal(expected.ToArray(), logits.ToArray());
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Config_RoundTripsThroughJson_AndRefusesWhatASeq2SeqCannotBe()
    {
        var config = Config(CellKind.Lstm, AttentionKind.Bahdanau, true, 2) with { Dropout = 0.25 };
        Assert.Equal(config, ModelConfig.FromJson(config.ToJson()));
        var parsed = ModelConfig.FromJson("""{"format_version": 1, "kind": "seq2seq", "cell": "gru", "vocab_size": 9, "target_vocab_size": 11, "embedding_dim": 5, "hidden_size": 7}""");
        Assert.Equal(ModelConfig.EncoderDecoder(CellKind.Gru, 9, 11, 5, 7), parsed);
        Assert.Equal(AttentionKind.Luong, parsed.Attention);

        void Refused(string json, string message) =>
            Assert.Contains(message, Assert.Throws<LstmException>(() => ModelConfig.FromJson(json.Replace('\'', '"'), "m/config.json")).Message);
        const string head = "{'format_version': 1, 'kind': 'seq2seq', ";
        Refused(head + "'cell': 'gru', 'vocab_size': 9, 'embedding_dim': 5, 'hidden_size': 7}", "has no 'target_vocab_size'");
        Refused(head + "'cell': 'rnn-tanh', 'vocab_size': 9, 'target_vocab_size': 4, 'embedding_dim': 5, 'hidden_size': 7}", "lstm or gru");
        Refused(head + "'cell': 'gru', 'vocab_size': 9, 'target_vocab_size': 4, 'embedding_dim': 5, 'hidden_size': 7, 'attention': 'dot'}", "attention 'dot' is not one of luong, bahdanau");
        Refused(head + "'cell': 'gru', 'vocab_size': 0, 'target_vocab_size': 4, 'embedding_dim': 5, 'hidden_size': 7}", "vocab_size=0 (the source vocabulary) must be positive");
        Refused(head + "'cell': 'gru', 'vocab_size': 9, 'target_vocab_size': 4, 'embedding_dim': 5, 'hidden_size': 7, 'output_size': 5}", "output_size=5 must equal target_vocab_size=4");
        Refused(head + "'cell': 'lstm', 'vocab_size': 9, 'target_vocab_size': 4, 'embedding_dim': 5, 'hidden_size': 7, 'proj_size': 3}", "proj_size=3");
        Refused("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": 2, "hidden_size": 3, "output_size": 1, "target_vocab_size": 4}""", "are for kind seq2seq only");
        Assert.Contains("is not seq2seq", Assert.Throws<LstmException>(() => new Seq2SeqModel<float>(TestDevices.Get("cpu"), ModelConfig.LanguageModel(CellKind.Gru, 5, 3, 4))).Message);
    }

    [Fact]
    public void BadInputs_AreRefusedWithOneClearMessage()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new Seq2SeqModel<float>(dev, Config(CellKind.Lstm, AttentionKind.Luong, false, 1), seed: 1);
        using var src = Tensor<float>.FromArray(dev, [1, 2, 3, 4, 0, 0], 2, 3);
        using var tgt = Tensor<float>.FromArray(dev, [1, 2, 1, 5], 2, 2);
        using var badTarget = Tensor<float>.FromArray(dev, [1, 2, 1, 9], 2, 2);
        using var oneRow = Tensor<float>.FromArray(dev, [1, 2], 1, 2);
        Assert.Contains("source row 1 has length 0, outside [1, 3]", Assert.Throws<LstmException>(() => model.Forward(src, [3, 0], tgt, [2, 2])).Message);
        Assert.Contains("decoder input row 0 has length 3, outside [1, 2]", Assert.Throws<LstmException>(() => model.Forward(src, [3, 1], tgt, [3, 2])).Message);
        Assert.Contains("but the source batch has 2 rows", Assert.Throws<LstmException>(() => model.Forward(src, [3, 1], oneRow, [2])).Message);
        Assert.Contains("is not a row of a table of 6", Assert.Throws<LstmException>(() => model.Forward(src, [3, 1], badTarget, [2, 2])).Message);
        Assert.Throws<InvalidOperationException>(() => model.Backward(tgt));
        using (var logits = model.Forward(src, [3, 1], tgt, [2, 1], training: true))
            Assert.Contains("expected [4, 6]", Assert.Throws<LstmException>(() => model.Backward(tgt)).Message);
        using var state = model.Encode(src, [3, 1]);
        Assert.Contains("token 6 of row 1 is not in the target vocabulary", Assert.Throws<LstmException>(() => model.Step(state, [1, 6]).Dispose()).Message);
        Assert.Contains("2 previous tokens for a state of 3 rows", Assert.Throws<LstmException>(() =>
        {
            using var three = state.Select([0, 1, 1]);
            model.Step(three, [1, 1]).Dispose();
        }).Message);
        Assert.Contains("row 2 (position 0) is not a row of a state of 2", Assert.Throws<LstmException>(() => state.Select([2]).Dispose()).Message);
    }
}
