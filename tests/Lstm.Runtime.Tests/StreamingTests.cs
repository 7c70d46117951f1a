using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>Streaming inference: feeding a sequence one step or a chunk at a time equals one call over it.</summary>
public class StreamingTests
{
    private const int I = 3, H = 5, L = 2, S = 6, B = 2;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var cell in new[] { "lstm", "lstm-proj", "gru", "rnn-relu" })
            {
                yield return [device[0], cell, false];
                yield return [device[0], cell, true];
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Step_ChunkByChunk_EqualsFullSequence(string deviceName, string cell, bool batchFirst)
    {
        var device = TestDevices.Get(deviceName);
        var x = Numerics.Uniform(new Random(12), S * B * I);
        using var tx = Tensor<double>.FromArray(device, x, batchFirst ? [B, S, I] : [S, B, I]);
        Func<Tensor<double>, RecurrentState<double>?, (Tensor<double>, RecurrentState<double>)> step;
        double[] fullOut, fullH;
        double[]? fullC = null;
        IDisposable layer;
        switch (cell)
        {
            case "lstm" or "lstm-proj":
                var lstm = new LSTM<double>(device, new LSTMOptions(I, H, L, BatchFirst: batchFirst, ProjSize: cell == "lstm-proj" ? 2 : 0), seed: 4);
                using (var r = lstm.Forward(tx))
                    (fullOut, fullH, fullC) = (r.Output.ToArray(), r.HN.ToArray(), r.CN.ToArray());
                step = lstm.Step;
                layer = lstm;
                break;
            case "gru":
                var gru = new GRU<double>(device, new GRUOptions(I, H, L, BatchFirst: batchFirst), seed: 4);
                using (var r = gru.Forward(tx))
                    (fullOut, fullH) = (r.Output.ToArray(), r.HN.ToArray());
                step = gru.Step;
                layer = gru;
                break;
            default:
                var rnn = new RNN<double>(device, new RNNOptions(I, H, L, Nonlinearity: RnnNonlinearity.Relu, BatchFirst: batchFirst), seed: 4);
                using (var r = rnn.Forward(tx))
                    (fullOut, fullH) = (r.Output.ToArray(), r.HN.ToArray());
                step = rnn.Step;
                layer = rnn;
                break;
        }

        using var _ = layer;
        int w = fullOut.Length / (S * B);
        foreach (var chunks in new[] { new[] { 1, 1, 1, 1, 1, 1 }, new[] { 2, 3, 1 } })
        {
            var streamed = new double[fullOut.Length];
            RecurrentState<double>? state = null;
            int t0 = 0;
            foreach (int n in chunks)
            {
                var xc = new double[n * B * I];
                for (int t = 0; t < n; t++)
                {
                    for (int b = 0; b < B; b++)
                        Array.Copy(x, batchFirst ? (b * S + t0 + t) * I : ((t0 + t) * B + b) * I, xc, batchFirst ? (b * n + t) * I : (t * B + b) * I, I);
                }

                using var txc = Tensor<double>.FromArray(device, xc, batchFirst ? [B, n, I] : [n, B, I]);
                var (output, next) = step(txc, state);
                using (output)
                {
                    var o = output.ToArray();
                    for (int t = 0; t < n; t++)
                    {
                        for (int b = 0; b < B; b++)
                            Array.Copy(o, batchFirst ? (b * n + t) * w : (t * B + b) * w, streamed, batchFirst ? (b * S + t0 + t) * w : ((t0 + t) * B + b) * w, w);
                    }
                }

                state?.Dispose();
                state = next;
                t0 += n;
            }

            using (state)
            {
                Assert.True(Numerics.MaxAbsError(fullOut, streamed) < 1e-13, $"output differs ({string.Join(",", chunks)})");
                Assert.True(Numerics.MaxAbsError(fullH, state!.H.ToArray()) < 1e-13, "h differs");
                if (fullC is not null)
                    Assert.True(Numerics.MaxAbsError(fullC, state.C!.ToArray()) < 1e-13, "c differs");
                else
                    Assert.Null(state.C);
            }
        }
    }

    [Fact]
    public void Step_RejectsBidirectional()
    {
        var device = TestDevices.Get("ilgpu-cpu");
        using var gru = new GRU<double>(device, new GRUOptions(I, H, Bidirectional: true));
        using var x = Tensor<double>.Zeros(device, 1, B, I);
        var e = Assert.Throws<LstmException>(() => gru.Step(x));
        Assert.Contains("bidirectional GRU", e.Message, StringComparison.Ordinal);
    }
}
