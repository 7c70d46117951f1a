using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Dropout between layers: a training forward equals the float64 network reference with the
/// same (seed, layer, element) mask key, with and without lengths; inference ignores it; and the
/// backward pass through the mask matches central finite differences.
/// </summary>
public class DropoutNetworkTests(ITestOutputHelper output)
{
    private const int I = 3, H = 4, L = 3, S = 4, B = 3;
    private const double P = 0.4;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            yield return [device[0], RecurrentCell.Lstm, true, false];
            yield return [device[0], RecurrentCell.Gru, false, true];
            yield return [device[0], RecurrentCell.RnnTanh, true, true];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingForward_MatchesNetworkReference_AndInferenceIgnoresDropout(string deviceName, RecurrentCell cell, bool bidirectional, bool withLengths)
    {
        var device = TestDevices.Get(deviceName);
        using var net = Build(device, cell, bidirectional);
        net.DropoutSeed = 1234;
        var rng = new Random(5);
        int ld = L * (bidirectional ? 2 : 1);
        var x = Numerics.Uniform(rng, S * B * I);
        var h0 = Numerics.Uniform(rng, ld * B * H);
        int[]? lengths = withLengths ? [2, 4, 1] : null;
        var parameters = net.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray());
        var options = new NetworkReferenceOptions
        {
            Cell = cell, InputSize = I, HiddenSize = H, NumLayers = L, Bidirectional = bidirectional, Dropout = P, DropoutSeed = 1234,
        };
        var expected = NetworkReference.Forward(options, parameters, x, S, B, h0, null, lengths);
        var plain = NetworkReference.Forward(options with { Dropout = 0 }, parameters, x, S, B, h0, null, lengths);

        using var tx = Tensor<double>.FromArray(device, x, S, B, I);
        using var th = Tensor<double>.FromArray(device, h0, ld, B, H);
        var (outT, hnT) = net.Forward(tx, th, true, lengths);
        var (outI, hnI) = net.Forward(tx, th, false, lengths);
        double err = Math.Max(Numerics.MaxAbsError(outT, expected.Output), Numerics.MaxAbsError(hnT, expected.HN));
        double errI = Math.Max(Numerics.MaxAbsError(outI, plain.Output), Numerics.MaxAbsError(hnI, plain.HN));
        output.WriteLine($"{cell} bidirectional={bidirectional} lengths={withLengths}: training vs reference {err:E2}, inference vs reference without dropout {errI:E2}");
        Assert.True(err < 1e-12, $"training forward differs from the reference by {err:E2}");
        Assert.True(errI < 1e-12, $"inference forward differs from the reference without dropout by {errI:E2}");
        Assert.True(Numerics.MaxAbsError(outT, outI) > 1e-3, "dropout changed nothing");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_ThroughDropout_MatchesCentralFiniteDifferences(string deviceName, RecurrentCell cell, bool bidirectional, bool withLengths)
    {
        const double eps = 1e-6;
        var device = TestDevices.Get(deviceName);
        using var net = Build(device, cell, bidirectional);
        net.DropoutSeed = 99;
        var rng = new Random(6);
        int d = bidirectional ? 2 : 1;
        var x = Numerics.Uniform(rng, S * B * I);
        var dy = Numerics.Uniform(rng, S * B * d * H);
        int[]? lengths = withLengths ? [2, 4, 1] : null;

        double Loss()
        {
            using var tx = Tensor<double>.FromArray(device, x, S, B, I);
            var (o, _) = net.Forward(tx, null, true, lengths);
            return o.Zip(dy, (a, b) => a * b).Sum();
        }

        net.ZeroGrad();
        using var tx = Tensor<double>.FromArray(device, x, S, B, I);
        using var tdy = Tensor<double>.FromArray(device, dy, S, B, d * H);
        var dx = net.ForwardBackward(tx, tdy, lengths);
        double worst = 0;
        void Compare(string what, double analytic, double numeric)
        {
            double e = Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric));
            worst = Math.Max(worst, e);
            Assert.True(e < 1e-7, $"{what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + eps;
            double plus = Loss();
            x[i] = keep - eps;
            double minus = Loss();
            x[i] = keep;
            Compare($"x[{i}]", dx[i], (plus - minus) / (2 * eps));
        }

        foreach (var p in net.Parameters.Where(p => p.Name.StartsWith("weight_ih_l", StringComparison.Ordinal)))
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            foreach (int i in new[] { 0, values.Length / 2, values.Length - 1 })
            {
                double keep = values[i];
                values[i] = keep + eps;
                p.Value.CopyFrom(values);
                double plus = Loss();
                values[i] = keep - eps;
                p.Value.CopyFrom(values);
                double minus = Loss();
                values[i] = keep;
                p.Value.CopyFrom(values);
                Compare($"{p.Name}[{i}]", analytic[i], (plus - minus) / (2 * eps));
            }
        }

        output.WriteLine($"{cell}: worst relative error {worst:E2}");
    }

    private static Net Build(Lstm.Runtime.Devices.ComputeDevice device, RecurrentCell cell, bool bidirectional) => cell switch
    {
        RecurrentCell.Lstm => new Net(new LSTM<double>(device, new LSTMOptions(I, H, L, Dropout: P, Bidirectional: bidirectional), seed: 8)),
        RecurrentCell.Gru => new Net(new GRU<double>(device, new GRUOptions(I, H, L, Dropout: P, Bidirectional: bidirectional), seed: 8)),
        _ => new Net(new RNN<double>(device, new RNNOptions(I, H, L, Nonlinearity: cell == RecurrentCell.RnnRelu ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, Dropout: P, Bidirectional: bidirectional), seed: 8)),
    };

    /// <summary>An LSTM, GRU or RNN behind one shape.</summary>
    private sealed class Net(object layer) : IDisposable
    {
        public ulong DropoutSeed
        {
            set
            {
                switch (layer)
                {
                    case LSTM<double> l: l.DropoutSeed = value; break;
                    case GRU<double> g: g.DropoutSeed = value; break;
                    case RNN<double> r: r.DropoutSeed = value; break;
                }
            }
        }

        public IReadOnlyList<Parameter<double>> Parameters => layer switch
        {
            LSTM<double> l => l.Parameters().ToList(),
            GRU<double> g => g.Parameters().ToList(),
            _ => ((RNN<double>)layer).Parameters().ToList(),
        };

        public void ZeroGrad()
        {
            foreach (var p in Parameters)
                p.ZeroGrad();
        }

        private RecurrentResult<double> Run(Tensor<double> x, Tensor<double>? h0, bool training, int[]? lengths) => layer switch
        {
            LSTM<double> l => l.Forward(x, h0, null, training, lengths),
            GRU<double> g => g.Forward(x, h0, training, lengths),
            _ => ((RNN<double>)layer).Forward(x, h0, training, lengths),
        };

        public (double[] Output, double[] HN) Forward(Tensor<double> x, Tensor<double>? h0, bool training, int[]? lengths)
        {
            using var r = Run(x, h0, training, lengths);
            return (r.Output.ToArray(), r.HN.ToArray());
        }

        public double[] ForwardBackward(Tensor<double> x, Tensor<double> dy, int[]? lengths)
        {
            using var r = Run(x, null, true, lengths);
            using RecurrentGradients<double> g = layer switch
            {
                LSTM<double> l => l.Backward((LSTMResult<double>)r, dy),
                GRU<double> gru => gru.Backward(r, dy),
                _ => ((RNN<double>)layer).Backward(r, dy),
            };
            return g.DX.ToArray();
        }

        public void Dispose() => ((IDisposable)layer).Dispose();
    }
}
