using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The analytic gradients of <see cref="SequenceNetwork{T}"/> against central finite differences
/// in float64, for every kind × cell, with bidirectional layers, proj_size, bias off, dropout (a
/// fixed DropoutSeed, so every forward draws the same mask) and two layers:
/// loss = Σ y ⊙ w for a fixed random w, every parameter perturbed by ±1e-6; the error is relative
/// to the parameter's largest gradient (at least 1e-2) and must stay below 1e-6.
/// On <c>cpu</c> every entry of every parameter is checked; on <c>ilgpu-cpu</c> (a slow
/// simulator) three entries of every parameter, on fewer cases.
/// </summary>
public class SequenceNetworkGradientTests(ITestOutputHelper output)
{
    private const int B = 3, T = 5, I = 3, H = 5, O = 2, V = 7;

    public static IEnumerable<object[]> CpuCases()
    {
        foreach (var kind in new[] { "sequence-to-one", "sequence-to-sequence", "language-model" })
        {
            foreach (var cell in new[] { "lstm", "gru", "rnn-tanh", "rnn-relu" })
            {
                yield return ["cpu", kind, cell, 1, false, 0, 0.0, true];
                yield return ["cpu", kind, cell, 2, true, 0, 0.4, true];
                yield return ["cpu", kind, cell, 2, false, 0, 0.0, false];
            }

            yield return ["cpu", kind, "lstm", 2, false, 3, 0.0, true];
            yield return ["cpu", kind, "lstm", 2, true, 2, 0.3, false];
        }
    }

    public static IEnumerable<object[]> IlgpuCases()
    {
        foreach (var kind in new[] { "sequence-to-one", "sequence-to-sequence", "language-model" })
        {
            yield return ["ilgpu-cpu", kind, "lstm", 2, true, 2, 0.3, true];
            yield return ["ilgpu-cpu", kind, "gru", 2, true, 0, 0.4, false];
            yield return ["ilgpu-cpu", kind, "rnn-tanh", 1, true, 0, 0.0, true];
            yield return ["ilgpu-cpu", kind, "rnn-relu", 2, false, 0, 0.5, true];
        }
    }

    [Theory]
    [MemberData(nameof(CpuCases))]
    [MemberData(nameof(IlgpuCases))]
    public void Backward_MatchesFiniteDifferences_Float64(string device, string kind, string cell, int layers, bool bidirectional, int projSize, double dropout, bool bias)
    {
        var dev = TestDevices.Get(device);
        var k = ModelConfig.ParseKind(kind);
        var c = ModelConfig.ParseCell(cell);
        bool slow = device != "cpu";
        int hidden = slow ? 3 : H;
        var config = k == ModelKind.LanguageModel
            ? ModelConfig.LanguageModel(c, V, I, hidden, layers, dropout, projSize) with { Bias = bias, Bidirectional = bidirectional }
            : new ModelConfig(k, c, I, hidden, O, layers, bias, bidirectional, dropout, projSize);
        int steps = slow ? 3 : T;
        using var model = new SequenceNetwork<double>(dev, config, seed: 11) { DropoutSeed = 12345 };
        var rng = new Random(17);
        using var x = k == ModelKind.LanguageModel
            ? Tensor<double>.FromArray(dev, Enumerable.Range(0, B * steps).Select(_ => (double)rng.Next(V)).ToArray(), B, steps)
            : Tensor<double>.FromArray(dev, Numerics.Uniform(rng, B * steps * I), B, steps, I);
        int rows = k == ModelKind.SequenceToOne ? B : B * steps;
        var w = Numerics.Uniform(rng, rows * config.OutputSize);
        bool training = dropout > 0;

        double Loss()
        {
            using var y = model.Forward(x, training);
            return y.ToArray().Zip(w, (a, b) => a * b).Sum();
        }

        model.ZeroGrad();
        using (var y = model.Forward(x, training: true))
        {
            Assert.Equal([rows, config.OutputSize], y.Shape);
            using var dy = Tensor<double>.FromArray(dev, w, rows, config.OutputSize);
            model.Backward(dy);
        }

        double worst = 0;
        int checkedEntries = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            var analytic = p.Grad.ToArray();
            var values = p.Value.ToArray();
            int[] entries = slow ? [0, values.Length / 2, values.Length - 1] : Enumerable.Range(0, values.Length).ToArray();
            // The floor keeps the central difference's rounding (~1e-9 absolute for a loss of a few units) out of tiny gradients.
            double scale = Math.Max(1e-2, analytic.Max(Math.Abs));
            foreach (int i in entries.Distinct())
            {
                double v = values[i];
                values[i] = v + 1e-6;
                p.Value.CopyFrom(values);
                double plus = Loss();
                values[i] = v - 1e-6;
                p.Value.CopyFrom(values);
                double minus = Loss();
                values[i] = v;
                p.Value.CopyFrom(values);
                double numeric = (plus - minus) / 2e-6;
                double err = Math.Abs(numeric - analytic[i]) / scale;
                Assert.True(err < 1e-6, $"{name}[{i}]: analytic {analytic[i]:e6}, numeric {numeric:e6} (relative error {err:e2})");
                worst = Math.Max(worst, err);
                checkedEntries++;
            }
        }

        output.WriteLine($"{checkedEntries} entries of {model.NamedParameters().Count()} parameters: worst error relative to the largest gradient {worst:e2}");
    }

    [Theory]
    [InlineData("lstm", 2)]
    [InlineData("gru", 0)]
    [InlineData("rnn-relu", 0)]
    public void SequenceToOne_Bidirectional_HeadReadsTopForwardAndReverseFinalStates(string cell, int projSize)
    {
        var dev = TestDevices.Get("cpu");
        var config = new ModelConfig(ModelKind.SequenceToOne, ModelConfig.ParseCell(cell), I, H, O, NumLayers: 2, Bidirectional: true, ProjSize: projSize);
        using var model = new SequenceNetwork<double>(dev, config, seed: 3);
        var rng = new Random(5);
        using var x = Tensor<double>.FromArray(dev, Numerics.Uniform(rng, B * T * I), B, T, I);
        var y = model.Forward(x).ToArray();
        int hOut = config.HiddenOutputSize;
        var hn = HiddenFinal(model.Recurrent, x);
        var wt = model.Fc.Weight.Value.ToArray();
        var bt = model.Fc.Bias.Value.ToArray();
        for (int b = 0; b < B; b++)
        {
            for (int o = 0; o < O; o++)
            {
                double s = bt[o];
                for (int d = 0; d < 2; d++)
                {
                    for (int j = 0; j < hOut; j++)
                        s += wt[o * 2 * hOut + d * hOut + j] * hn[((2 + d) * B + b) * hOut + j];
                }

                Assert.Equal(s, y[b * O + o], 12);
            }
        }
    }

    [Fact]
    public void SequenceToSequence_Bidirectional_HeadReadsEveryStepsOutput()
    {
        var dev = TestDevices.Get("cpu");
        var config = new ModelConfig(ModelKind.SequenceToSequence, CellKind.Gru, I, H, O, NumLayers: 2, Bidirectional: true);
        using var model = new SequenceNetwork<double>(dev, config, seed: 3);
        var rng = new Random(5);
        using var x = Tensor<double>.FromArray(dev, Numerics.Uniform(rng, B * T * I), B, T, I);
        var y = model.Forward(x).ToArray();
        using var r = ((GRU<double>)model.Recurrent).Forward(x);
        var outputs = r.Output.ToArray();
        var wt = model.Fc.Weight.Value.ToArray();
        var bt = model.Fc.Bias.Value.ToArray();
        for (int row = 0; row < B * T; row++)
        {
            for (int o = 0; o < O; o++)
            {
                double s = bt[o];
                for (int j = 0; j < 2 * H; j++)
                    s += wt[o * 2 * H + j] * outputs[row * 2 * H + j];
                Assert.Equal(s, y[row * O + o], 12);
            }
        }
    }

    private static double[] HiddenFinal(RecurrentLayer<double> layer, Tensor<double> x)
    {
        using var r = layer switch
        {
            LSTM<double> l => l.Forward(x),
            GRU<double> g => g.Forward(x),
            RNN<double> n => n.Forward(x),
            _ => throw new InvalidOperationException(),
        };
        return r.HN.ToArray();
    }
}
