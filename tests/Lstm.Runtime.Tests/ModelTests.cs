using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>The sequence-to-sequence model and the character language model: gradients and learning.</summary>
public class ModelTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    /// <summary>Central differences of every parameter entry against the analytic gradient; returns the worst error relative to the largest gradient.</summary>
    private static double CheckGradients(IEnumerable<(string Name, Parameter<double> Parameter)> parameters, Func<double> loss)
    {
        const double eps = 1e-6;
        double worst = 0;
        foreach (var (name, p) in parameters)
        {
            var analytic = p.Grad.ToArray();
            var values = p.Value.ToArray();
            var numeric = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                double v = values[i];
                values[i] = v + eps;
                p.Value.CopyFrom(values);
                double plus = loss();
                values[i] = v - eps;
                p.Value.CopyFrom(values);
                double minus = loss();
                values[i] = v;
                p.Value.CopyFrom(values);
                numeric[i] = (plus - minus) / (2 * eps);
            }

            double err = Numerics.MaxAbsError(analytic, numeric) / Math.Max(1e-3, numeric.Max(Math.Abs));
            Assert.True(err < 1e-6, $"{name}: relative gradient error {err:e2}");
            worst = Math.Max(worst, err);
        }

        return worst;
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SequenceModel_Backward_MatchesFiniteDifferences_Float64(string device)
    {
        const int B = 2, T = 3, I = 2, H = 3, L = 2, O = 2;
        var dev = TestDevices.Get(device);
        using var model = new SequenceModel<double>(dev, I, H, L, O, seed: 3);
        var rng = new Random(4);
        using var x = Tensor<double>.FromArray(dev, Numerics.Uniform(rng, B * T * I), B, T, I);
        using var y = Tensor<double>.FromArray(dev, Numerics.Uniform(rng, B * T * O), B * T, O);
        using var mask = Tensor<double>.FromArray(dev, [1, 1, 0, 1, 0, 1], B * T);

        double Loss()
        {
            using var p = model.Forward(x);
            var (l, g) = MseLoss.Compute(p, y, mask);
            g.Dispose();
            return l;
        }

        model.ZeroGrad();
        using (var p = model.Forward(x, training: true))
        {
            Assert.Equal([B * T, O], p.Shape);
            var (_, g) = MseLoss.Compute(p, y, mask);
            using (g)
                model.Backward(g);
        }

        output.WriteLine($"worst relative error {CheckGradients(model.NamedParameters(), Loss):e2}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void CharLanguageModel_Backward_MatchesFiniteDifferences_Float64(string device)
    {
        const int B = 2, T = 3, V = 5, E = 3, H = 4;
        var dev = TestDevices.Get(device);
        using var model = new CharLanguageModel<double>(dev, V, E, H, numLayers: 1, seed: 5);
        using var tokens = Tensor<double>.FromArray(dev, [0, 3, 3, 4, 1, 0], B, T);
        int[] targets = [3, 3, 4, 1, 0, 2];

        double Loss()
        {
            using var logits = model.Forward(tokens);
            var (l, g) = CrossEntropyLoss.Compute(logits, targets);
            g.Dispose();
            return l;
        }

        model.ZeroGrad();
        using (var logits = model.Forward(tokens, training: true))
        {
            Assert.Equal([B * T, V], logits.Shape);
            var (_, g) = CrossEntropyLoss.Compute(logits, targets);
            using (g)
                model.Backward(g);
        }

        // Row 2 of the table is never looked up: its gradient is exactly zero.
        Assert.All(model.Embedding.Weight.Grad.ToArray().Skip(2 * E).Take(E), v => Assert.Equal(0, v));
        output.WriteLine($"worst relative error {CheckGradients(model.NamedParameters(), Loss):e2}");
    }

    [Fact]
    public void CharLanguageModel_OnRepeatedText_LossFallsBelowLnVocab()
    {
        const string text = "the cat sat on the mat. ";
        var dev = TestDevices.Get("ilgpu-cpu");
        string corpus = string.Concat(Enumerable.Repeat(text, 20));
        var vocab = CharVocabulary.FromText(corpus);
        var data = new CharTextDataset(vocab.Encode(corpus), steps: 12, stride: 5);
        var loader = new DataLoader(data, batchSize: 8, seed: 1);
        using var model = new CharLanguageModel<float>(dev, vocab.Size, embeddingDim: 8, hiddenSize: 24, numLayers: 1, seed: 2);
        using var adam = new Adam<float>(model.NamedParameters(), learningRate: 0.02);
        var clock = Stopwatch.StartNew();
        double first = double.NaN;
        double last = double.NaN;
        // The loss is below half of ln V by step 20 and near a tenth of it by step 40 (seeds 1 to 3 of the loader and 2 to 4 of the model).
        const int steps = 40;
        for (int step = 0; step < steps; step++)
        {
            var batch = loader.Next();
            using var tokens = Tensor<float>.FromArray(dev, batch.X.Select(v => (float)v).ToArray(), 8, 12);
            using var targets = Tensor<float>.FromArray(dev, batch.Y.Select(v => (float)v).ToArray(), 8 * 12);
            adam.ZeroGrad();
            using var logits = model.Forward(tokens, training: true);
            var (loss, grad) = CrossEntropyLoss.Compute(logits, targets);
            using (grad)
                model.Backward(grad);
            GradientClipping.ClipGradNorm(model.NamedParameters().Select(p => p.Parameter), 5.0);
            adam.Step();
            if (step == 0)
                first = loss;
            last = loss;
        }

        output.WriteLine($"{steps} steps in {clock.Elapsed.TotalSeconds:F1} s: loss {first:F3} → {last:F3}, ln V = {Math.Log(vocab.Size):F3}");
        Assert.True(first > 0.8 * Math.Log(vocab.Size), $"initial loss {first}");
        Assert.True(last < 0.5 * Math.Log(vocab.Size), $"final loss {last} not below half of ln {vocab.Size}");
    }
}
