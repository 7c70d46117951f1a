using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>SequenceNetwork inference helpers: Generate (streaming sampling) and Predict (host arrays).</summary>
public class SequenceNetworkInferenceTests
{
    public static IEnumerable<object[]> LanguageModels()
    {
        foreach (var cell in new[] { "lstm", "gru", "rnn-tanh", "rnn-relu" })
            yield return ["cpu", cell, 2, 0];
        yield return ["cpu", "lstm", 2, 3];
        yield return ["ilgpu-cpu", "lstm", 1, 2];
        yield return ["ilgpu-cpu", "gru", 2, 0];
    }

    /// <summary>The last row's logits of a whole-sequence Forward over the tokens.</summary>
    private static double[] LastLogits(SequenceNetwork<double> model, IReadOnlyList<int> tokens)
    {
        using var x = Tensor<double>.FromArray(model.Device, tokens.Select(t => (double)t).ToArray(), 1, tokens.Count);
        using var y = model.Forward(x);
        return y.ToArray().Skip((tokens.Count - 1) * model.OutputSize).ToArray();
    }

    [Theory]
    [MemberData(nameof(LanguageModels))]
    public void Generate_AtTemperatureZero_IsTheArgmaxOfTheWholeSequenceForward(string device, string cell, int layers, int projSize)
    {
        var dev = TestDevices.Get(device);
        const int V = 11;
        using var model = new SequenceNetwork<double>(dev, ModelConfig.LanguageModel(ModelConfig.ParseCell(cell), V, 4, 7, layers, projSize: projSize), seed: 31);
        int[] prompt = [3, 1, 4, 1, 5];
        int count = device == "cpu" ? 12 : 4;
        var generated = model.Generate(prompt, count, temperature: 0);
        Assert.Equal(count, generated.Length);
        var sequence = prompt.ToList();
        foreach (int token in generated)
        {
            var logits = LastLogits(model, sequence);
            int argmax = Array.IndexOf(logits, logits.Max());
            Assert.Equal(argmax, token);
            sequence.Add(token);
        }
    }

    [Fact]
    public void Generate_IsDeterministicPerSeed()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceNetwork<float>(dev, ModelConfig.LanguageModel(CellKind.Gru, 13, 5, 9), seed: 4);
        int[] prompt = [0, 7];
        var a = model.Generate(prompt, 40, temperature: 1.0, seed: 5);
        var b = model.Generate(prompt, 40, temperature: 1.0, seed: 5);
        var c = model.Generate(prompt, 40, temperature: 1.0, seed: 6);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, t => Assert.InRange(t, 0, 12));

        // A very low temperature leaves only the argmax.
        Assert.Equal(model.Generate(prompt, 10, temperature: 0), model.Generate(prompt, 10, temperature: 1e-6, seed: 8));
        Assert.Empty(model.Generate(prompt, 0));
    }

    [Fact]
    public void Generate_BadUse_ThrowsClearMessages()
    {
        var dev = TestDevices.Get("cpu");
        using var bidirectional = new SequenceNetwork<float>(dev, ModelConfig.LanguageModel(CellKind.Lstm, 5, 3, 4) with { Bidirectional = true });
        Assert.Contains("bidirectional", Assert.Throws<LstmException>(() => bidirectional.Generate([1], 3)).Message, StringComparison.Ordinal);
        using var values = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 2, 4, 1));
        Assert.Contains("needs a language model", Assert.Throws<LstmException>(() => values.Generate([1], 3)).Message, StringComparison.Ordinal);
        using var lm = new SequenceNetwork<float>(dev, ModelConfig.LanguageModel(CellKind.RnnTanh, 5, 3, 4));
        Assert.Contains("prompt is empty", Assert.Throws<LstmException>(() => lm.Generate([], 3)).Message, StringComparison.Ordinal);
        Assert.Contains("prompt token 5 at position 1 is not in [0, vocab_size=5)", Assert.Throws<LstmException>(() => lm.Generate([1, 5], 3)).Message, StringComparison.Ordinal);
        Assert.Contains("temperature=-1", Assert.Throws<LstmException>(() => lm.Generate([1], 3, temperature: -1)).Message, StringComparison.Ordinal);
        Assert.Contains("count=-2", Assert.Throws<LstmException>(() => lm.Generate([1], -2)).Message, StringComparison.Ordinal);
        Assert.Contains("Predict is for value models", Assert.Throws<LstmException>(() => lm.Predict(new float[6], 2, 3)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sequence-to-one", "gru", true)]
    [InlineData("sequence-to-sequence", "rnn-relu", false)]
    [InlineData("sequence-to-sequence", "lstm", true)]
    public void Predict_ReturnsTheForwardRowsOnTheHost(string kind, string cell, bool bidirectional)
    {
        var dev = TestDevices.Get("cpu");
        const int B = 3, T = 5, I = 3, O = 2;
        var config = new ModelConfig(ModelConfig.ParseKind(kind), ModelConfig.ParseCell(cell), I, 5, O, NumLayers: 2, Bidirectional: bidirectional, Dropout: 0.5);
        using var model = new SequenceNetwork<float>(dev, config, seed: 9);
        var xv = Numerics.Uniform(new Random(10), B * T * I).Select(v => (float)v).ToArray();
        using var x = Tensor<float>.FromArray(dev, xv, B, T, I);
        var expected = model.Forward(x).ToArray();
        var rows = model.Predict(x);
        Assert.Equal(config.Kind == ModelKind.SequenceToOne ? B : B * T, rows.Length);
        Assert.All(rows, r => Assert.Equal(O, r.Length));
        Assert.Equal(expected, rows.SelectMany(r => r));
        Assert.Equal(rows, model.Predict(xv, B, T));
        var e = Assert.Throws<LstmException>(() => model.Predict(xv.AsSpan(1), B, T));
        Assert.Contains("expected batch·steps·input_size = 3·5·3 = 45", e.Message, StringComparison.Ordinal);
    }
}
