using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// An LSTM with a linear head learns, through the CTC loss alone, to read a symbol sequence out of
/// noisy frames in which each symbol lasts a few steps (and repeated symbols are separated by silence):
/// greedy decoding then gets under 10 % of the labels wrong on fresh sequences.
/// </summary>
public class CtcLearningTests(ITestOutputHelper output)
{
    private const int Symbols = 4;
    private const int Classes = Symbols + 1;
    private const int MaxSteps = 18;

    /// <summary>A batch: frames [B, T, Symbols] (one-hot of the current symbol, zeros for silence, plus noise), input lengths, targets.</summary>
    private static (float[] X, int[] Lengths, int[][] Targets) Sample(Random rng, int batch)
    {
        var x = new float[batch * MaxSteps * Symbols];
        var lengths = new int[batch];
        var targets = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            var labels = new List<int>();
            int t = 0;
            while (true)
            {
                int label = rng.Next(1, Classes);
                int hold = rng.Next(2, 4);
                if (t + hold + 1 > MaxSteps || labels.Count == 4)
                    break;
                for (int k = 0; k < hold; k++, t++)
                    x[(b * MaxSteps + t) * Symbols + label - 1] = 1;
                t++; // a silent frame after every symbol
                labels.Add(label);
            }

            lengths[b] = t;
            targets[b] = [.. labels];
            for (int i = 0; i < MaxSteps * Symbols; i++)
                x[b * MaxSteps * Symbols + i] += (float)(0.1 * (rng.NextDouble() * 2 - 1));
        }

        return (x, lengths, targets);
    }

    [Fact]
    public void LstmLearnsCtcCopy_UnderTenPercentLabelErrors()
    {
        var dev = TestDevices.Get("cpu");
        using var lstm = new LSTM<float>(dev, new LSTMOptions(Symbols, 32, 1, BatchFirst: true), seed: 3);
        using var head = new Linear<float>(dev, 32, Classes, seed: 4);
        using var adam = new Adam<float>(lstm.Parameters().Concat(head.Parameters()), learningRate: 0.01);
        var rng = new Random(7);
        const int batch = 32;
        double loss = double.NaN;
        for (int step = 0; step < 400; step++)
        {
            var (x, lengths, targets) = Sample(rng, batch);
            using var tx = Tensor<float>.FromArray(dev, x, batch, MaxSteps, Symbols);
            adam.ZeroGrad();
            using var forward = lstm.Forward(tx, training: true);
            using var logits = head.Forward(forward.Output.Data, batch * MaxSteps);
            using var logProbs = LogSoftmax(dev, logits, batch);
            var (l, _, grad) = CtcLoss.Compute(logProbs, targets, lengths, batchFirst: true);
            loss = l;
            using (grad)
            {
                using var dLogits = Tensor<float>.FromArray(dev, grad.ToArray(), batch * MaxSteps, Classes);
                using var dh = head.Backward(forward.Output.Data, dLogits, batch * MaxSteps);
                using var dOut = Tensor<float>.FromArray(dev, dh.ToArray(), batch, MaxSteps, 32);
                using var gradients = lstm.Backward(forward, dOut);
            }

            adam.Step();
        }

        var (vx, vLengths, vTargets) = Sample(new Random(99), 200);
        using var vtx = Tensor<float>.FromArray(dev, vx, 200, MaxSteps, Symbols);
        using var vf = lstm.Forward(vtx);
        using var vLogits = head.Forward(vf.Output.Data, 200 * MaxSteps);
        using var scores = Tensor<float>.FromArray(dev, vLogits.ToArray(), 200, MaxSteps, Classes);
        double errorRate = CtcDecoding.ErrorRate(CtcDecoding.Greedy(scores, vLengths, batchFirst: true), vTargets);
        output.WriteLine($"last training CTC loss {loss:F4}, validation label error rate {errorRate:P2}");
        Assert.True(errorRate < 0.10, $"label error rate {errorRate:P2} after training (loss {loss:F4})");
    }

    /// <summary>log_softmax over the last dimension, on the host (the test's head; the loss itself runs on the device).</summary>
    private static Tensor<float> LogSoftmax(Lstm.Runtime.Devices.ComputeDevice dev, Tensor<float> logits, int batch)
    {
        var x = logits.ToArray();
        var lp = new float[x.Length];
        for (int r = 0; r < x.Length / Classes; r++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < Classes; c++)
                max = Math.Max(max, x[r * Classes + c]);
            double sum = 0;
            for (int c = 0; c < Classes; c++)
                sum += Math.Exp(x[r * Classes + c] - max);
            double lse = max + Math.Log(sum);
            for (int c = 0; c < Classes; c++)
                lp[r * Classes + c] = (float)(x[r * Classes + c] - lse);
        }

        return Tensor<float>.FromArray(dev, lp, batch, MaxSteps, Classes);
    }
}
