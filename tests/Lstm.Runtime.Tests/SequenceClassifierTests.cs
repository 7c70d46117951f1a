using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The sequence classifier: it learns the synthetic classify task, its pooling's gradients
/// match finite differences in float64, padding changes nothing, and its config round-trips.
/// </summary>
public class SequenceClassifierTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(CellKind.Lstm, PoolKind.Mean)]
    [InlineData(CellKind.Gru, PoolKind.Last)]
    public void ClassifyTask_ReachesValidationAccuracyAbove95(CellKind cell, PoolKind pool)
    {
        var dev = TestDevices.Get("cpu");
        var train = new ClassifyTask(4000, seed: 11);
        var valid = new ClassifyTask(500, seed: 12);
        var config = ModelConfig.SequenceClassifier(cell, ClassifyTask.DefaultSymbols, hiddenSize: 32, pool, vocabSize: ClassifyTask.DefaultSymbols, embeddingDim: 8);
        using var model = new SequenceClassifier<float>(dev, config, seed: 3);
        var options = new TrainerOptions
        {
            Steps = 700, BatchSize = 32, LearningRate = 1e-2, ClipNorm = 1.0, Loss = LossKind.CrossEntropy, Seed = 4,
            Schedule = ScheduleKind.Cosine, MinLearningRate = 1e-3, ValidateEvery = 100, RestoreBest = true, ValidationBatchSize = 250,
        };
        using var trainer = new Trainer<float>(model, train, valid, options);
        var clock = Stopwatch.StartNew();
        var result = trainer.Run();
        var probabilities = ClassProbabilities.Of(model, valid, 250);
        var metrics = ClassificationMetrics.Of(valid.ToLabeled().Classes, valid.ToLabeled().Labels, ClassProbabilities.Argmax(probabilities));
        output.WriteLine($"{result.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s; best validation loss {result.BestValidationLoss:F4}; accuracy {metrics.Accuracy:P2}, macro-F1 {metrics.MacroF1:F4}");
        Assert.True(metrics.Accuracy > 0.95, $"validation accuracy {metrics.Accuracy:P2} is not above 95 %");
    }

    [Theory]
    [InlineData(PoolKind.Mean)]
    [InlineData(PoolKind.Max)]
    public void Pooling_GradientMatchesFiniteDifferences(PoolKind pool)
    {
        const int B = 3, T = 5, F = 4;
        int[] lengths = [5, 2, 3];
        var rng = new Random(7);
        var output = Enumerable.Range(0, B * T * F).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var weights = Enumerable.Range(0, B * F).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double Loss(double[] o)
        {
            var pooled = new double[B * F];
            SequencePooling.Forward(pool, o, lengths, T, F, pooled, new int[B * F]);
            return pooled.Select((v, i) => v * weights[i]).Sum();
        }

        var argmax = new int[B * F];
        SequencePooling.Forward(pool, output, lengths, T, F, new double[B * F], argmax);
        var grad = new double[B * T * F];
        SequencePooling.Backward(pool, weights, lengths, argmax, T, F, grad);
        const double h = 1e-6;
        for (int i = 0; i < output.Length; i++)
        {
            var plus = (double[])output.Clone();
            var minus = (double[])output.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (Loss(plus) - Loss(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) < 1e-8, $"element {i}: analytic {grad[i]}, numeric {numeric}");
            int b = i / (T * F), t = i / F % T;
            if (t >= lengths[b])
                Assert.Equal(0, grad[i]);
        }
    }

    [Theory]
    [InlineData(PoolKind.Last, false, CellKind.Lstm)]
    [InlineData(PoolKind.Last, true, CellKind.Gru)]
    [InlineData(PoolKind.Mean, true, CellKind.Lstm)]
    [InlineData(PoolKind.Max, false, CellKind.RnnTanh)]
    [InlineData(PoolKind.Max, true, CellKind.Lstm)]
    public void Classifier_ParameterGradients_MatchFiniteDifferences(PoolKind pool, bool bidirectional, CellKind cell)
    {
        var dev = TestDevices.Get("cpu");
        const int B = 3, T = 6, I = 3, C = 3;
        int[] lengths = [4, 6, 1];
        var config = ModelConfig.SequenceClassifier(cell, C, hiddenSize: 5, pool, inputSize: I, numLayers: 2, bidirectional: bidirectional);
        using var model = new SequenceClassifier<double>(dev, config, seed: 5);
        var rng = new Random(9);
        var x = Enumerable.Range(0, B * T * I).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        int[] targets = [2, 0, 1];
        double Loss()
        {
            using var input = Tensor<double>.FromArray(dev, x, B, T, I);
            using var logits = model.Forward(input, lengths);
            var (loss, grad) = CrossEntropyLoss.Compute(logits, targets);
            grad.Dispose();
            return loss;
        }

        model.ZeroGrad();
        using (var input = Tensor<double>.FromArray(dev, x, B, T, I))
        using (var logits = model.Forward(input, lengths, training: true))
        {
            var (_, grad) = CrossEntropyLoss.Compute(logits, targets);
            using (grad)
                model.Backward(grad);
        }

        GradientCheck.Parameters(model.NamedParameters(), Loss, samples: 7);
    }

    [Theory]
    [InlineData(PoolKind.Last)]
    [InlineData(PoolKind.Mean)]
    [InlineData(PoolKind.Max)]
    public void Padding_ChangesNothing(PoolKind pool)
    {
        var dev = TestDevices.Get("cpu");
        var config = ModelConfig.SequenceClassifier(CellKind.Lstm, 3, hiddenSize: 6, pool, vocabSize: 7, embeddingDim: 4, bidirectional: true);
        using var model = new SequenceClassifier<double>(dev, config, seed: 2);
        double[] alone = [1, 4, 2];
        double[] padded = [1, 4, 2, 6, 6, 5, 3, 0, 1, 2, 3, 4, 5, 6, 0];
        using var a = Tensor<double>.FromArray(dev, alone, 1, 3);
        using var b = Tensor<double>.FromArray(dev, padded.Take(5).Concat(padded.Skip(5)).ToArray(), 3, 5);
        using var ya = model.Forward(a, [3]);
        using var yb = model.Forward(b, [3, 5, 5]);
        var first = ya.ToArray();
        var batched = yb.ToArray();
        for (int c = 0; c < 3; c++)
            Assert.True(Math.Abs(first[c] - batched[c]) < 1e-12, $"class {c}: alone {first[c]}, padded {batched[c]}");
    }

    [Fact]
    public void EmptySequence_IsRefusedWithAClearMessage()
    {
        var dev = TestDevices.Get("cpu");
        var config = ModelConfig.SequenceClassifier(CellKind.Gru, 2, hiddenSize: 4, PoolKind.Mean, inputSize: 2);
        using var model = new SequenceClassifier<float>(dev, config);
        using var x = Tensor<float>.FromArray(dev, new float[2 * 3 * 2], 2, 3, 2);
        var e = Assert.Throws<LstmException>(() => model.Forward(x, [3, 0]));
        Assert.Contains("sequence 1 has length 0", e.Message);
    }

    [Fact]
    public void Config_RoundTripsThroughJson_AndRefusesPoolOnOtherKinds()
    {
        var tokens = ModelConfig.SequenceClassifier(CellKind.Gru, 5, 16, PoolKind.Max, vocabSize: 30, embeddingDim: 8, bidirectional: true);
        Assert.Equal(tokens, ModelConfig.FromJson(tokens.ToJson()));
        Assert.Contains("\"pool\": \"max\"", tokens.ToJson());
        var values = ModelConfig.SequenceClassifier(CellKind.Lstm, 2, 16, PoolKind.Mean, inputSize: 3);
        Assert.Equal(values, ModelConfig.FromJson(values.ToJson()));
        Assert.Throws<LstmException>(() => (values with { OutputSize = 1 }).Validate());
        Assert.Throws<LstmException>(() => new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 4, 1) { Pool = PoolKind.Mean }.Validate());
        Assert.Throws<LstmException>(() => new SequenceNetwork<float>(TestDevices.Get("cpu"), values));
    }

    [Fact]
    public void WeightedCrossEntropy_MatchesTheDefinition()
    {
        var dev = TestDevices.Get("cpu");
        double[] z = [0.5, -1, 2, 0.1, 0.2, -0.3];
        using var logits = Tensor<double>.FromArray(dev, z, 2, 3);
        double[] w = [1, 3, 0.5];
        int[] y = [1, 2];
        var (loss, grad, weight) = WeightedCrossEntropy.Compute(logits, y, default, w);
        using (grad)
        {
            double Ce(int r, int c) => Math.Log(Enumerable.Range(0, 3).Sum(k => Math.Exp(z[r * 3 + k]))) - z[r * 3 + c];
            Assert.Equal((3 * Ce(0, 1) + 0.5 * Ce(1, 2)) / 3.5, loss, 12);
            Assert.Equal(3.5, weight);
            var g = grad.ToArray();
            const double h = 1e-6;
            for (int i = 0; i < z.Length; i++)
            {
                var zp = (double[])z.Clone();
                zp[i] += h;
                var zm = (double[])z.Clone();
                zm[i] -= h;
                using var tp = Tensor<double>.FromArray(dev, zp, 2, 3);
                using var tm = Tensor<double>.FromArray(dev, zm, 2, 3);
                var (lp, gp, _) = WeightedCrossEntropy.Compute(tp, y, default, w);
                var (lm, gm, _) = WeightedCrossEntropy.Compute(tm, y, default, w);
                gp.Dispose();
                gm.Dispose();
                Assert.True(Math.Abs((lp - lm) / (2 * h) - g[i]) < 1e-8);
            }
        }
    }
}
