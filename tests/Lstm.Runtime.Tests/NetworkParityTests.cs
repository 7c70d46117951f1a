using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The layers' forward pass against the float64 network reference across the configuration space:
/// every cell, one and two directions, batch_first, bias, proj_size (LSTM) and sequence lengths,
/// in float32 (1e-5) and float64 (1e-12).
/// </summary>
public class NetworkParityTests(ITestOutputHelper output)
{
    private const int I = 3, H = 5, L = 2, S = 4, B = 3;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var cell in new[] { RecurrentCell.Lstm, RecurrentCell.Gru, RecurrentCell.RnnTanh, RecurrentCell.RnnRelu })
            {
                yield return [device[0], cell, false, true, true, 0, false];
                yield return [device[0], cell, true, false, false, 0, true];
                if (cell == RecurrentCell.Lstm)
                {
                    yield return [device[0], cell, true, true, true, 2, true];
                    yield return [device[0], cell, false, false, true, 3, false];
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesNetworkReference(string deviceName, RecurrentCell cell, bool bidirectional, bool batchFirst, bool bias, int proj, bool withLengths)
    {
        var device = TestDevices.Get(deviceName);
        double e32 = Check<float>(device, cell, bidirectional, batchFirst, bias, proj, withLengths);
        double e64 = Check<double>(device, cell, bidirectional, batchFirst, bias, proj, withLengths);
        output.WriteLine($"{cell} D={(bidirectional ? 2 : 1)} batch_first={batchFirst} bias={bias} proj={proj} lengths={withLengths}: float32 {e32:E2}, float64 {e64:E2}");
        Assert.True(e32 <= 1e-5, $"float32 max abs error {e32:E2}");
        Assert.True(e64 <= 1e-12, $"float64 max abs error {e64:E2}");
    }

    private static double Check<T>(ComputeDevice device, RecurrentCell cell, bool bidirectional, bool batchFirst, bool bias, int proj, bool withLengths)
        where T : unmanaged
    {
        var rng = new Random(17);
        int d = bidirectional ? 2 : 1;
        int hOut = proj > 0 ? proj : H;
        var x = Numerics.RoundToFloat(Numerics.Uniform(rng, S * B * I));
        var h0 = Numerics.RoundToFloat(Numerics.Uniform(rng, L * d * B * hOut));
        var c0 = Numerics.RoundToFloat(Numerics.Uniform(rng, L * d * B * H));
        int[]? lengths = withLengths ? [2, 4, 1] : null;
        int[] xShape = batchFirst ? [B, S, I] : [S, B, I];
        using var tx = Tensor<T>.FromArray(device, Cast<T>(x), xShape);
        using var th = Tensor<T>.FromArray(device, Cast<T>(h0), L * d, B, hOut);
        using var tc = Tensor<T>.FromArray(device, Cast<T>(c0), L * d, B, H);
        IDisposable layer;
        IEnumerable<Parameter<T>> parameters;
        RecurrentResult<T> result;
        switch (cell)
        {
            case RecurrentCell.Lstm:
                var lstm = new LSTM<T>(device, new LSTMOptions(I, H, L, bias, batchFirst, Bidirectional: bidirectional, ProjSize: proj), seed: 21);
                (layer, parameters, result) = (lstm, lstm.Parameters(), lstm.Forward(tx, th, tc, lengths: lengths));
                break;
            case RecurrentCell.Gru:
                var gru = new GRU<T>(device, new GRUOptions(I, H, L, bias, batchFirst, Bidirectional: bidirectional), seed: 21);
                (layer, parameters, result) = (gru, gru.Parameters(), gru.Forward(tx, th, lengths: lengths));
                break;
            default:
                var act = cell == RecurrentCell.RnnRelu ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;
                var rnn = new RNN<T>(device, new RNNOptions(I, H, L, act, bias, batchFirst, Bidirectional: bidirectional), seed: 21);
                (layer, parameters, result) = (rnn, rnn.Parameters(), rnn.Forward(tx, th, lengths: lengths));
                break;
        }

        using (layer)
        using (result)
        {
            var options = new NetworkReferenceOptions
            {
                Cell = cell, InputSize = I, HiddenSize = H, NumLayers = L, Bias = bias, BatchFirst = batchFirst, Bidirectional = bidirectional, ProjSize = proj,
            };
            var values = parameters.ToDictionary(p => p.Name, p => Widen(p.Value.ToArray()));
            var r = NetworkReference.Forward(options, values, x, S, B, h0, cell == RecurrentCell.Lstm ? c0 : null, lengths);
            double err = Math.Max(Numerics.MaxAbsError(Widen(result.Output.ToArray()), r.Output), Numerics.MaxAbsError(Widen(result.HN.ToArray()), r.HN));
            if (result is LSTMResult<T> lr)
                err = Math.Max(err, Numerics.MaxAbsError(Widen(lr.CN.ToArray()), r.CN));
            return err;
        }
    }

    private static T[] Cast<T>(double[] v) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T[])(object)v.Select(a => (float)a).ToArray() : (T[])(object)v;

    private static double[] Widen<T>(T[] v) where T : unmanaged =>
        v.Select(a => a switch { float f => f, double g => g, _ => double.NaN }).ToArray();
}
