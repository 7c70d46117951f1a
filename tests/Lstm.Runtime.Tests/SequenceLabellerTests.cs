using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The sequence labeller (a <c>SequenceClassifier</c> of kind sequence-labeller): logits on every
/// step whose parameter gradients match finite differences in float64 under the per-step
/// cross-entropy with the padding mask and under CTC, the same numbers on every device, padding
/// that changes nothing, and its config's round trip.
/// </summary>
public class SequenceLabellerTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    private const int B = 3, T = 6, I = 3, C = 4;
    private static readonly int[] Lengths = [4, 6, 2];
    private static readonly int[] StepLabels = [1, 0, 3, 2, 0, 0, 2, 2, 1, 0, 3, 1, 3, 1, 0, 0, 0, 0];
    private static readonly int[][] CtcTargets = [[1, 1], [3, 2, 3], [2]];

    private static double LossAndGrad(SequenceClassifier<double> model, double[] x, bool ctc, bool tokens, bool backward)
    {
        var dev = model.Device;
        using var input = tokens ? Tensor<double>.FromArray(dev, x, B, T) : Tensor<double>.FromArray(dev, x, B, T, I);
        using var logits = model.Forward(input, Lengths, training: backward);
        double loss;
        Tensor<double> grad;
        if (ctc)
        {
            (loss, _, grad) = CtcLoss.FromLogits(logits, B, CtcTargets, Lengths);
        }
        else
        {
            var mask = Enumerable.Range(0, B * T).Select(r => r % T < Lengths[r / T]).ToArray();
            (loss, grad) = CrossEntropyLoss.Compute(logits, StepLabels, mask);
        }

        using (grad)
        {
            if (backward)
                model.Backward(grad);
        }

        return loss;
    }

    private static ModelConfig Config(CellKind cell, bool bidirectional, bool tokens) => tokens
        ? ModelConfig.SequenceLabeller(cell, C, hiddenSize: 5, vocabSize: 7, embeddingDim: 3, numLayers: 2, bidirectional: bidirectional)
        : ModelConfig.SequenceLabeller(cell, C, hiddenSize: 5, inputSize: I, numLayers: 2, bidirectional: bidirectional);

    private static double[] Input(bool tokens)
    {
        var rng = new Random(9);
        return Enumerable.Range(0, B * T * (tokens ? 1 : I)).Select(_ => tokens ? rng.Next(7) : rng.NextDouble() * 2 - 1).ToArray();
    }

    [Theory]
    [InlineData(CellKind.Lstm, true, false, false)]
    [InlineData(CellKind.Gru, false, true, false)]
    [InlineData(CellKind.RnnTanh, true, false, true)]
    [InlineData(CellKind.Lstm, false, true, true)]
    [InlineData(CellKind.Lstm, true, true, true)]
    public void ParameterGradients_MatchFiniteDifferences(CellKind cell, bool bidirectional, bool tokens, bool ctc)
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceClassifier<double>(dev, Config(cell, bidirectional, tokens), seed: 5);
        Assert.Equal(SequenceOutput.EveryStep, model.Output);
        var x = Input(tokens);
        model.ZeroGrad();
        LossAndGrad(model, x, ctc, tokens, backward: true);
        double worst = GradientCheck.Parameters(model.NamedParameters(), () => LossAndGrad(model, x, ctc, tokens, false), samples: 9);
        output.WriteLine($"worst |analytic − numeric| {worst:e2}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void EveryDevice_GivesTheCpuLogitsAndGradients(string device)
    {
        foreach (bool ctc in new[] { false, true })
        {
            var (cpuLoss, cpuGrads) = Measure(TestDevices.Get("cpu"), ctc);
            var (loss, grads) = Measure(TestDevices.Get(device), ctc);
            Assert.True(Math.Abs(loss - cpuLoss) < 1e-10, $"{device} ({(ctc ? "ctc" : "ce")}): loss {loss}, cpu {cpuLoss}");
            double worst = 0;
            foreach (var (name, g) in grads)
                worst = Math.Max(worst, Numerics.MaxAbsError(g, cpuGrads[name]));
            output.WriteLine($"{device} ({(ctc ? "ctc" : "ce")}): |Δ loss| {Math.Abs(loss - cpuLoss):e2}, worst |Δ gradient| {worst:e2}");
            Assert.True(worst < 1e-10, $"{device} ({(ctc ? "ctc" : "ce")}): gradients differ from cpu's by {worst:e2}");
        }
    }

    private static (double Loss, Dictionary<string, double[]> Grads) Measure(ComputeDevice dev, bool ctc)
    {
        using var model = new SequenceClassifier<double>(dev, Config(CellKind.Lstm, true, tokens: false), seed: 8);
        model.ZeroGrad();
        double loss = LossAndGrad(model, Input(false), ctc, false, backward: true);
        return (loss, model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ToArray()));
    }

    [Fact]
    public void Padding_ChangesNoStep()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceClassifier<double>(dev, Config(CellKind.Gru, true, tokens: true), seed: 2);
        double[] alone = [1, 4, 2];
        double[] padded = [1, 4, 2, 6, 6, 5, 3, 0, 1, 2];
        using var a = Tensor<double>.FromArray(dev, alone, 1, 3);
        using var b = Tensor<double>.FromArray(dev, padded, 2, 5);
        using var ya = model.Forward(a, [3]);
        using var yb = model.Forward(b, [3, 5]);
        Assert.True(ya.HasShape(3, C) && yb.HasShape(10, C), $"shapes {ya.ShapeString} and {yb.ShapeString}");
        var first = ya.ToArray();
        var batched = yb.ToArray();
        for (int i = 0; i < 3 * C; i++)
            Assert.True(Math.Abs(first[i] - batched[i]) < 1e-12, $"value {i}: alone {first[i]}, padded {batched[i]}");
    }

    [Fact]
    public void Config_RoundTripsThroughJson_AndNamesItsKind()
    {
        var config = ModelConfig.SequenceLabeller(CellKind.Gru, 5, hiddenSize: 7, vocabSize: 11, embeddingDim: 4, bidirectional: true);
        string json = config.ToJson();
        Assert.Contains("\"kind\": \"sequence-labeller\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("pool", json, StringComparison.Ordinal);
        Assert.Equal(config, ModelConfig.FromJson(json));
        Assert.True(config.ReadsTokens);
        var one = ModelConfig.SequenceLabeller(CellKind.Lstm, 1, hiddenSize: 3, inputSize: 2);
        Assert.Equal("model config: output_size=1: a sequence-labeller needs at least 2 classes", Assert.Throws<LstmException>(one.Validate).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainerValidation_OnShorterValidationSequences_IsTheDirectLoss(bool ctc)
    {
        var dev = TestDevices.Get("cpu");
        var train = ctc ? CtcTask.Create(20, seed: 1) : LabelTask.Create(20, seed: 1, maxLength: 16);
        var shortTargets = ctc ? CtcTask.Create(40, seed: 2) : LabelTask.Create(40, seed: 2, maxLength: 16);
        // Validation sequences shorter than the training set's longest (and, for CTC, shorter targets).
        var keep = Enumerable.Range(0, shortTargets.Count).Where(i => ctc ? shortTargets.Targets[i].Length <= 3 : shortTargets.LengthOf(i) <= 6).Take(9).ToArray();
        Assert.True(keep.Length >= 3);
        var x = new double[shortTargets.Steps * shortTargets.InputSize];
        var y = new double[shortTargets.TargetLength];
        var sequences = new List<double[]>();
        foreach (int i in keep)
        {
            shortTargets.Fill(i, x, y);
            sequences.Add(x.AsSpan(0, shortTargets.LengthOf(i) * shortTargets.InputSize).ToArray());
        }

        var valid = new LabelledSteps(sequences, train.InputSize, keep.Select(i => shortTargets.Targets[i]).ToArray(), train.Classes, perStep: !ctc);
        Assert.True(valid.Steps < train.Steps || valid.TargetLength < train.TargetLength, $"validation T {valid.Steps} and target {valid.TargetLength}, training {train.Steps} and {train.TargetLength}");
        var config = ctc
            ? ModelConfig.SequenceLabeller(CellKind.Gru, train.Classes.Count, hiddenSize: 6, inputSize: train.InputSize)
            : ModelConfig.SequenceLabeller(CellKind.Gru, train.Classes.Count, hiddenSize: 6, vocabSize: LabelTask.Symbols, embeddingDim: 3);
        using var model = new SequenceClassifier<double>(dev, config, seed: 4);
        var options = new TrainerOptions { Steps = 1, BatchSize = 4, Loss = ctc ? LossKind.Ctc : LossKind.CrossEntropy, ValidationBatchSize = valid.Count };
        using var trainer = new Trainer<double>(model, train, valid, options);
        double viaTrainer = trainer.Validate();

        int steps = valid.Steps, b = valid.Count;
        var input = new double[b * steps * valid.InputSize];
        var lengths = new int[b];
        for (int i = 0; i < b; i++)
        {
            lengths[i] = valid.LengthOf(i);
            sequences[i].CopyTo(input, i * steps * valid.InputSize);
        }

        using var tensor = ctc ? Tensor<double>.FromArray(dev, input, b, steps, valid.InputSize) : Tensor<double>.FromArray(dev, input, b, steps);
        using var logits = model.Forward(tensor, lengths);
        double direct;
        if (ctc)
        {
            var (loss, _, grad) = CtcLoss.FromLogits(logits, b, valid.Targets, lengths);
            grad.Dispose();
            direct = loss;
        }
        else
        {
            var classes = new int[b * steps];
            var mask = new bool[b * steps];
            for (int i = 0; i < b; i++)
            {
                for (int t = 0; t < lengths[i]; t++)
                {
                    classes[i * steps + t] = valid.Targets[i][t];
                    mask[i * steps + t] = true;
                }
            }

            var (loss, grad) = CrossEntropyLoss.Compute(logits, classes, mask);
            grad.Dispose();
            direct = loss;
        }

        Assert.True(Math.Abs(viaTrainer - direct) < 1e-12, $"trainer {viaTrainer}, direct {direct}");
    }
}
