using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The float64 whole-network reference against PyTorch's golden cases, and its sequence lengths
/// and dropout against constructions from smaller networks.
/// </summary>
public class NetworkReferenceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> GoldenCases() =>
        new[] { "a_seed_l2_bf", "b_tiny", "c_bidir_l2_seqfirst", "d_proj8", "e_nobias_l2", "f_long_T200", "g_seed_f64", "h1_gru", "h2_rnn_tanh", "i_no_state_l2_bf" }
            .Select(c => new object[] { c });

    private static NetworkReferenceOptions OptionsOf(GoldenCase g) => new()
    {
        Cell = g.Mode switch
        {
            "LSTM" => RecurrentCell.Lstm,
            "GRU" => RecurrentCell.Gru,
            "RNN_TANH" => RecurrentCell.RnnTanh,
            "RNN_RELU" => RecurrentCell.RnnRelu,
            _ => throw new InvalidOperationException("unknown mode " + g.Mode),
        },
        InputSize = g.InputSize,
        HiddenSize = g.HiddenSize,
        NumLayers = g.NumLayers,
        Bias = g.Bias,
        BatchFirst = g.BatchFirst,
        Bidirectional = g.Bidirectional,
        ProjSize = g.ProjSize,
    };

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Network_MatchesPyTorchGoldenForward(string caseName)
    {
        var g = GoldenCase.Load(caseName);
        var options = OptionsOf(g);
        var parameters = g.ParamNames.ToDictionary(n => n, g.Get);
        Assert.Equal(g.ParamNames, NetworkReference.ParameterShapes(options).Select(p => p.Name));
        foreach (var (name, shape) in NetworkReference.ParameterShapes(options))
            Assert.Equal(shape, g.Shape(name));
        var r = NetworkReference.Forward(
            options, parameters, g.Get("x"), g.SeqLen, g.Batch,
            g.HasInitialState ? g.Get("h0") : null,
            g.HasInitialState && g.Mode == "LSTM" ? g.Get("c0") : null);

        // libtorch's float32 lies ~1e-7 from float64; its float64 ~1e-15.
        double tol = g.IsFloat64 ? 1e-12 : 1e-5;
        var errors = new List<(string, double)>
        {
            ("output", Numerics.MaxAbsError(r.Output, g.Get("output"))),
            ("h_n", Numerics.MaxAbsError(r.HN, g.Get("h_n"))),
        };
        if (g.Mode == "LSTM")
            errors.Add(("c_n", Numerics.MaxAbsError(r.CN, g.Get("c_n"))));
        output.WriteLine($"{caseName}: " + string.Join(", ", errors.Select(e => $"{e.Item1} {e.Item2:E2}")));
        foreach (var (name, err) in errors)
            Assert.True(err <= tol, $"{caseName}: {name} max abs error {err:E2} > {tol:E0}");
    }

    public static IEnumerable<object[]> Configurations()
    {
        foreach (var cell in new[] { RecurrentCell.Lstm, RecurrentCell.Gru, RecurrentCell.RnnTanh, RecurrentCell.RnnRelu })
        {
            foreach (var bidirectional in new[] { false, true })
            {
                foreach (var batchFirst in new[] { false, true })
                    yield return [cell, bidirectional, batchFirst, 0];
            }
        }

        yield return [RecurrentCell.Lstm, true, true, 3];
        yield return [RecurrentCell.Lstm, false, false, 2];
    }

    private static Dictionary<string, double[]> RandomParameters(NetworkReferenceOptions options, Random rng) =>
        NetworkReference.ParameterShapes(options).ToDictionary(p => p.Name, p => Numerics.Uniform(rng, p.Shape.Aggregate(1, (a, s) => a * s), 0.5));

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Network_WithLengths_EqualsEachSequenceRunAlone(RecurrentCell cell, bool bidirectional, bool batchFirst, int proj)
    {
        var rng = new Random(31);
        var options = new NetworkReferenceOptions
        {
            Cell = cell, InputSize = 3, HiddenSize = 5, NumLayers = 2, BatchFirst = batchFirst, Bidirectional = bidirectional, ProjSize = proj,
        };
        int steps = 6, batch = 3, hout = options.OutputHidden, width = options.Directions * hout, states = 2 * options.Directions;
        int[] lengths = [6, 2, 4];
        var parameters = RandomParameters(options, rng);
        var x = Numerics.Uniform(rng, steps * batch * 3);
        var h0 = Numerics.Uniform(rng, states * batch * hout);
        var c0 = cell == RecurrentCell.Lstm ? Numerics.Uniform(rng, states * batch * 5) : null;
        var r = NetworkReference.Forward(options, parameters, x, steps, batch, h0, c0, lengths);

        int Xi(int t, int b, int f, int feats) => batchFirst ? (b * steps + t) * feats + f : (t * batch + b) * feats + f;
        for (int b = 0; b < batch; b++)
        {
            int len = lengths[b];
            // The sequence alone, truncated to its length, batch 1.
            var xb = new double[len * 3];
            for (int t = 0; t < len; t++)
            {
                for (int f = 0; f < 3; f++)
                    xb[t * 3 + f] = x[Xi(t, b, f, 3)];
            }

            var h0b = Enumerable.Range(0, states).SelectMany(s => h0.Skip((s * batch + b) * hout).Take(hout)).ToArray();
            var c0b = c0 is null ? null : Enumerable.Range(0, states).SelectMany(s => c0.Skip((s * batch + b) * 5).Take(5)).ToArray();
            var alone = NetworkReference.Forward(options, parameters, xb, len, 1, h0b, c0b);
            for (int t = 0; t < steps; t++)
            {
                for (int f = 0; f < width; f++)
                {
                    double expected = t < len ? alone.Output[t * width + f] : 0;
                    Assert.Equal(expected, r.Output[Xi(t, b, f, width)], 1e-14);
                }
            }

            for (int s = 0; s < states; s++)
            {
                for (int f = 0; f < hout; f++)
                    Assert.Equal(alone.HN[s * hout + f], r.HN[(s * batch + b) * hout + f], 1e-14);
                if (cell == RecurrentCell.Lstm)
                {
                    for (int f = 0; f < 5; f++)
                        Assert.Equal(alone.CN[s * 5 + f], r.CN[(s * batch + b) * 5 + f], 1e-14);
                }
            }
        }
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, false)]
    [InlineData(RecurrentCell.Gru, true)]
    [InlineData(RecurrentCell.RnnTanh, true)]
    public void Network_Dropout_IsTheDocumentedMaskBetweenLayersOnly(RecurrentCell cell, bool bidirectional)
    {
        var rng = new Random(37);
        var two = new NetworkReferenceOptions
        {
            Cell = cell, InputSize = 4, HiddenSize = 6, NumLayers = 2, Bidirectional = bidirectional, BatchFirst = true, Dropout = 0.4, DropoutSeed = 77,
        };
        int steps = 5, batch = 3, dirs = two.Directions, width = dirs * 6;
        var parameters = RandomParameters(two, rng);
        var x = Numerics.Uniform(rng, steps * batch * 4);
        var h0 = Numerics.Uniform(rng, 2 * dirs * batch * 6);
        var c0 = cell == RecurrentCell.Lstm ? Numerics.Uniform(rng, 2 * dirs * batch * 6) : null;
        var r = NetworkReference.Forward(two, parameters, x, steps, batch, h0, c0);

        // Layer 0 alone, its output masked with stream 0 in seq-first order, then layer 1 alone.
        var one0 = two with { NumLayers = 1, Dropout = 0, BatchFirst = false };
        var xSeq = new double[x.Length];
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
                Array.Copy(x, (b * steps + t) * 4, xSeq, (t * batch + b) * 4, 4);
        }

        int stateLen = dirs * batch * 6;
        var p0 = parameters.Where(p => p.Key.Contains("_l0")).ToDictionary(p => p.Key, p => p.Value);
        var l0 = NetworkReference.Forward(one0, p0, xSeq, steps, batch, h0[..stateLen], c0?[..stateLen]);
        var dropped = new double[l0.Output.Length];
        DropoutReference.Dropout(77, 0, 0, 0.4, l0.Output, dropped);
        Assert.Contains(0.0, dropped);
        var one1 = one0 with { InputSize = width };
        var p1 = parameters.Where(p => p.Key.Contains("_l1")).ToDictionary(p => p.Key.Replace("_l1", "_l0", StringComparison.Ordinal), p => p.Value);
        var l1 = NetworkReference.Forward(one1, p1, dropped, steps, batch, h0[stateLen..], c0?[stateLen..]);

        // The last layer's output is not dropped: it equals layer 1 alone, back in batch-first order.
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                for (int f = 0; f < width; f++)
                    Assert.Equal(l1.Output[(t * batch + b) * width + f], r.Output[(b * steps + t) * width + f], 1e-14);
            }
        }

        Assert.Equal(l0.HN.Concat(l1.HN), r.HN);

        // Dropout 0 equals no dropout at all; another seed gives another output.
        var none = NetworkReference.Forward(two with { Dropout = 0 }, parameters, x, steps, batch, h0, c0);
        var other = NetworkReference.Forward(two with { DropoutSeed = 78 }, parameters, x, steps, batch, h0, c0);
        Assert.NotEqual(none.Output, r.Output);
        Assert.NotEqual(other.Output, r.Output);
    }

    [Fact]
    public void Network_RnnRelu_MatchesHandComputation()
    {
        // I = H = 1: h_t = max(0, w·x_t + b_ih + u·h_{t-1} + b_hh).
        var options = new NetworkReferenceOptions { Cell = RecurrentCell.RnnRelu, InputSize = 1, HiddenSize = 1 };
        var parameters = new Dictionary<string, double[]>
        {
            ["weight_ih_l0"] = [2.0], ["weight_hh_l0"] = [0.5], ["bias_ih_l0"] = [0.25], ["bias_hh_l0"] = [-0.5],
        };
        double[] x = [1.0, -3.0, 2.0];
        var r = NetworkReference.Forward(options, parameters, x, 3, 1, [1.0]);
        // t0: 2 + 0.25 + 0.5 - 0.5 = 2.25; t1: -6 + 0.25 + 1.125 - 0.5 < 0 → 0; t2: 4 + 0.25 + 0 - 0.5 = 3.75.
        Assert.Equal(new[] { 2.25, 0, 3.75 }, r.Output);
        Assert.Equal(new[] { 3.75 }, r.HN);
        Assert.Empty(r.CN);
    }

    [Fact]
    public void Network_ThrowsOnMissingOrMisshapedInput()
    {
        var options = new NetworkReferenceOptions { Cell = RecurrentCell.Gru, InputSize = 2, HiddenSize = 3 };
        var parameters = RandomParameters(options, new Random(1));
        var x = new double[4 * 2 * 2];
        Assert.Contains("bias_hh_l0", Assert.Throws<LstmException>(() =>
            NetworkReference.Forward(options, parameters.Where(p => p.Key != "bias_hh_l0").ToDictionary(), x, 4, 2)).Message);
        var misshaped = new Dictionary<string, double[]>(parameters) { ["weight_hh_l0"] = new double[8] };
        Assert.Contains("weight_hh_l0", Assert.Throws<LstmException>(() => NetworkReference.Forward(options, misshaped, x, 4, 2)).Message);
        var extra = new Dictionary<string, double[]>(parameters) { ["weight_hr_l0"] = new double[3] };
        Assert.Contains("unexpected parameter weight_hr_l0", Assert.Throws<LstmException>(() => NetworkReference.Forward(options, extra, x, 4, 2)).Message);
        Assert.Contains("input x", Assert.Throws<LstmException>(() => NetworkReference.Forward(options, parameters, new double[5], 4, 2)).Message);
        Assert.Contains("length 0", Assert.Throws<LstmException>(() => NetworkReference.Forward(options, parameters, x, 4, 2, lengths: [4, 0])).Message);
        Assert.Contains("no cell state", Assert.Throws<LstmException>(() => NetworkReference.Forward(options, parameters, x, 4, 2, c0: new double[6])).Message);
        Assert.Contains("proj_size", Assert.Throws<LstmException>(() => NetworkReference.Forward(options with { ProjSize = 2 }, parameters, x, 4, 2)).Message);
        Assert.Contains("dropout", Assert.Throws<LstmException>(() => NetworkReference.Forward(options with { Dropout = 1 }, parameters, x, 4, 2)).Message);
    }
}
