using System.Diagnostics;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>The encoder-decoder learns to reverse short sequences with teacher forcing and decodes them greedily with Encode and Step.</summary>
public class Seq2SeqLearningTests(ITestOutputHelper output)
{
    private const int Pad = 0, Bos = 1, Eos = 2, Vocab = 10;

    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Luong)]
    [InlineData(CellKind.Gru, AttentionKind.Bahdanau)]
    public void Reversal_IsLearned_AndDecodedGreedily(CellKind cell, AttentionKind attention)
    {
        var dev = TestDevices.Get("cpu");
        var config = ModelConfig.EncoderDecoder(cell, Vocab, Vocab, embeddingDim: 16, hiddenSize: 32, attention, bidirectional: true);
        using var model = new Seq2SeqModel<float>(dev, config, seed: 2);
        using var adam = new Adam<float>(model.NamedParameters(), learningRate: 1e-2);
        var rng = new Random(5);
        var clock = Stopwatch.StartNew();
        double loss = double.NaN;
        for (int step = 0; step < 300; step++)
        {
            var batch = Batch(rng, 32);
            using var logits = model.Forward(batch.Source, batch.SourceLengths, batch.DecoderInput, batch.TargetLengths, training: true);
            var (l, grad) = CrossEntropyLoss.Compute(logits, batch.Targets, batch.Mask);
            loss = l;
            using (grad)
                model.Backward(grad);
            adam.Step();
            adam.ZeroGrad();
            batch.Dispose();
        }

        // Greedy decoding of new sequences, one step at a time, until EOS.
        var test = Batch(new Random(99), 100);
        using var state = model.Encode(test.Source, test.SourceLengths);
        int rows = test.SourceLengths.Length, maxSteps = 8;
        var previous = Enumerable.Repeat(Bos, rows).ToArray();
        var decoded = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var done = new bool[rows];
        for (int t = 0; t < maxSteps; t++)
        {
            using var logits = model.Step(state, previous);
            var values = logits.ToArray();
            for (int r = 0; r < rows; r++)
            {
                int best = 0;
                for (int v = 1; v < Vocab; v++)
                {
                    if (values[r * Vocab + v] > values[r * Vocab + best])
                        best = v;
                }

                previous[r] = best;
                if (!done[r] && best != Eos)
                    decoded[r].Add(best);
                done[r] |= best == Eos;
            }
        }

        int exact = Enumerable.Range(0, rows).Count(r => done[r] && decoded[r].SequenceEqual(test.Sources[r].AsEnumerable().Reverse()));
        test.Dispose();
        output.WriteLine($"{cell} {attention}: last loss {loss:F4}, {exact} of {rows} reversed exactly, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(exact >= 90, $"{exact} of {rows} sequences reversed exactly (last training loss {loss:F4})");
    }

    private static ReversalBatch Batch(Random rng, int size)
    {
        var dev = TestDevices.Get("cpu");
        var sources = Enumerable.Range(0, size).Select(_ => Enumerable.Range(0, rng.Next(2, 7)).Select(_ => rng.Next(3, Vocab)).ToArray()).ToArray();
        int steps = sources.Max(s => s.Length), targetSteps = steps + 1;
        var source = new float[size * steps];
        var decoderInput = new float[size * targetSteps];
        var targets = new float[size * targetSteps];
        var mask = new float[size * targetSteps];
        for (int b = 0; b < size; b++)
        {
            var s = sources[b];
            for (int t = 0; t < s.Length; t++)
            {
                source[b * steps + t] = s[t];
                decoderInput[b * targetSteps + t + 1] = s[s.Length - 1 - t];
                targets[b * targetSteps + t] = s[s.Length - 1 - t];
            }

            decoderInput[b * targetSteps] = Bos;
            targets[b * targetSteps + s.Length] = Eos;
            for (int u = 0; u <= s.Length; u++)
                mask[b * targetSteps + u] = 1;
        }

        return new ReversalBatch(
            sources, Tensor<float>.FromArray(dev, source, size, steps), sources.Select(s => s.Length).ToArray(),
            Tensor<float>.FromArray(dev, decoderInput, size, targetSteps), sources.Select(s => s.Length + 1).ToArray(),
            Tensor<float>.FromArray(dev, targets, size * targetSteps), Tensor<float>.FromArray(dev, mask, size * targetSteps));
    }

    private sealed record ReversalBatch(
        int[][] Sources, Tensor<float> Source, int[] SourceLengths, Tensor<float> DecoderInput, int[] TargetLengths, Tensor<float> Targets, Tensor<float> Mask) : IDisposable
    {
        public void Dispose()
        {
            Source.Dispose();
            DecoderInput.Dispose();
            Targets.Dispose();
            Mask.Dispose();
        }
    }
}
