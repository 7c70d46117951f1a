using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>
/// Pooling of a padded batch of step outputs [B, T, F] over each sequence's own steps (padding
/// never enters): mean or max per feature, and their gradients. Host code in float64: the
/// pooled rows are [B, F], small beside the recurrent layers. <c>last</c> pools nothing here:
/// it reads h_n (see <see cref="SequenceClassifier{T}"/>).
/// </summary>
/// <remarks>Dimension letters: B batch, T steps, F features.</remarks>
public static class SequencePooling
{
    /// <summary>pooled [B, F] from output [B, T, F]; for max, <paramref name="argmax"/> [B, F] gets the step chosen (the first of equal values).</summary>
    /// <param name="pool">Mean or max.</param>
    /// <param name="output">[B, T, F].</param>
    /// <param name="lengths">B lengths in [1, T].</param>
    /// <param name="steps">T.</param>
    /// <param name="features">F.</param>
    /// <param name="pooled">[B, F] out.</param>
    /// <param name="argmax">[B, F] out (max only; may be empty for mean).</param>
    /// <exception cref="LstmException">A length is outside [1, T] or the sizes disagree.</exception>
    public static void Forward(PoolKind pool, ReadOnlySpan<double> output, IReadOnlyList<int> lengths, int steps, int features, Span<double> pooled, Span<int> argmax)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        int batch = Check(pool, output.Length, lengths, steps, features, pooled.Length, argmax.Length);
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            var row = pooled.Slice(b * features, features);
            var first = output.Slice(b * steps * features, features);
            first.CopyTo(row);
            if (pool == PoolKind.Max)
                argmax.Slice(b * features, features).Clear();
            for (int t = 1; t < length; t++)
            {
                var step = output.Slice((b * steps + t) * features, features);
                if (pool == PoolKind.Mean)
                {
                    for (int f = 0; f < features; f++)
                        row[f] += step[f];
                }
                else
                {
                    for (int f = 0; f < features; f++)
                    {
                        if (step[f] > row[f])
                        {
                            row[f] = step[f];
                            argmax[b * features + f] = t;
                        }
                    }
                }
            }

            if (pool == PoolKind.Mean)
            {
                for (int f = 0; f < features; f++)
                    row[f] /= length;
            }
        }
    }

    /// <summary>d output [B, T, F] from d pooled [B, F]: mean spreads each gradient over the sequence's steps, max routes it to the step chosen; padding gets 0.</summary>
    /// <param name="pool">Mean or max.</param>
    /// <param name="dPooled">[B, F].</param>
    /// <param name="lengths">B lengths in [1, T].</param>
    /// <param name="argmax">[B, F] from <see cref="Forward"/> (max only).</param>
    /// <param name="steps">T.</param>
    /// <param name="features">F.</param>
    /// <param name="dOutput">[B, T, F] out (overwritten).</param>
    public static void Backward(PoolKind pool, ReadOnlySpan<double> dPooled, IReadOnlyList<int> lengths, ReadOnlySpan<int> argmax, int steps, int features, Span<double> dOutput)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        int batch = Check(pool, dOutput.Length, lengths, steps, features, dPooled.Length, argmax.Length);
        dOutput.Clear();
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            var g = dPooled.Slice(b * features, features);
            if (pool == PoolKind.Mean)
            {
                for (int t = 0; t < length; t++)
                {
                    var d = dOutput.Slice((b * steps + t) * features, features);
                    for (int f = 0; f < features; f++)
                        d[f] = g[f] / length;
                }
            }
            else
            {
                for (int f = 0; f < features; f++)
                    dOutput[(b * steps + argmax[b * features + f]) * features + f] = g[f];
            }
        }
    }

    /// <summary>Checks the sizes and lengths; returns B.</summary>
    private static int Check(PoolKind pool, int outputLength, IReadOnlyList<int> lengths, int steps, int features, int pooledLength, int argmaxLength)
    {
        if (pool is not (PoolKind.Mean or PoolKind.Max))
            throw new LstmException($"pooling: {ModelConfig.PoolName(pool)} is not pooled over the steps (mean or max)");
        int batch = lengths.Count;
        if (steps < 1 || features < 1 || outputLength != batch * steps * features || pooledLength != batch * features || (pool == PoolKind.Max && argmaxLength != batch * features))
            throw new LstmException($"pooling: sizes disagree (B {batch}, T {steps}, F {features}; output {outputLength}, pooled {pooledLength}, argmax {argmaxLength})");
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 1 || lengths[b] > steps)
                throw new LstmException($"pooling: sequence {b} has {lengths[b]} steps, outside [1, {steps}] (an empty sequence has nothing to pool)");
        }

        return batch;
    }
}
