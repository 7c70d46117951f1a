using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Reading label sequences out of CTC outputs and scoring them: greedy (best-path) decoding, the
/// Levenshtein distance and the label error rate.
/// </summary>
/// <remarks>Dimension letters: T steps, B batch rows, C classes with class 0 the blank.</remarks>
public static class CtcDecoding
{
    /// <summary>
    /// Best-path decoding of one row: the most likely class at each step (the first of equal
    /// scores, as <c>argmax</c>), repeats merged, then blanks dropped.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="scores">[steps, C] logits, probabilities or log-probabilities (any monotone scores).</param>
    /// <param name="classes">C.</param>
    public static int[] Greedy<T>(ReadOnlySpan<T> scores, int classes) where T : unmanaged
    {
        if (classes <= 0 || scores.Length % classes != 0)
            throw new LstmException($"CTC greedy decoding: {scores.Length} scores are not whole steps of {classes} classes");
        var labels = new List<int>();
        int previous = 0;
        for (int t = 0; t < scores.Length / classes; t++)
        {
            var row = scores.Slice(t * classes, classes);
            int best = 0;
            double bestScore = Num<T>.ToDouble(row[0]);
            for (int c = 1; c < classes; c++)
            {
                double v = Num<T>.ToDouble(row[c]);
                if (v > bestScore)
                {
                    best = c;
                    bestScore = v;
                }
            }

            if (best != 0 && best != previous)
                labels.Add(best);
            previous = best;
        }

        return [.. labels];
    }

    /// <summary>Best-path decoding of every batch row over its first <paramref name="inputLengths"/>[b] steps.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="scores">[T, B, C] (or [B, T, C] with <paramref name="batchFirst"/>).</param>
    /// <param name="inputLengths">Each row's steps in [0, T], or null for T everywhere.</param>
    /// <param name="batchFirst">The scores are [B, T, C].</param>
    public static int[][] Greedy<T>(Tensor<T> scores, int[]? inputLengths = null, bool batchFirst = false) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Shape.Count != 3)
            throw new LstmException($"CTC greedy decoding: scores have shape {scores.ShapeString}, expected [T, B, C]{(batchFirst ? " batch first" : "")}");
        int time = scores.Shape[batchFirst ? 1 : 0];
        int batch = scores.Shape[batchFirst ? 0 : 1];
        int classes = scores.Shape[2];
        if (inputLengths is not null && inputLengths.Length != batch)
            throw new LstmException($"CTC greedy decoding: {inputLengths.Length} input lengths for {batch} batch rows");
        var host = scores.ToArray();
        var result = new int[batch][];
        var row = new T[time * classes];
        for (int b = 0; b < batch; b++)
        {
            int length = inputLengths?[b] ?? time;
            if (length < 0 || length > time)
                throw new LstmException($"CTC greedy decoding: input length {length} of row {b} outside [0, {time}]");
            for (int t = 0; t < length; t++)
            {
                long from = batchFirst ? ((long)b * time + t) * classes : ((long)t * batch + b) * classes;
                Array.Copy(host, from, row, (long)t * classes, classes);
            }

            result[b] = Greedy<T>(row.AsSpan(0, length * classes), classes);
        }

        return result;
    }

    /// <summary>The Levenshtein distance: the fewest insertions, deletions and substitutions that turn one sequence into the other.</summary>
    /// <param name="hypothesis">One sequence.</param>
    /// <param name="reference">The other.</param>
    public static int EditDistance(ReadOnlySpan<int> hypothesis, ReadOnlySpan<int> reference)
    {
        var previous = new int[reference.Length + 1];
        var current = new int[reference.Length + 1];
        for (int j = 0; j <= reference.Length; j++)
            previous[j] = j;
        for (int i = 1; i <= hypothesis.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= reference.Length; j++)
            {
                int substitute = previous[j - 1] + (hypothesis[i - 1] == reference[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitute, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[reference.Length];
    }

    /// <summary>
    /// The label error rate: the edit distances of every pair summed, over the references' total
    /// length. With empty references throughout it is 0 when every hypothesis is empty, else +∞.
    /// </summary>
    /// <param name="hypotheses">Decoded sequences.</param>
    /// <param name="references">The targets, one per hypothesis.</param>
    public static double ErrorRate(IReadOnlyList<int[]> hypotheses, IReadOnlyList<int[]> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new LstmException($"CTC error rate: {hypotheses.Count} hypotheses for {references.Count} references");
        long edits = 0;
        long length = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            edits += EditDistance(hypotheses[i], references[i]);
            length += references[i].Length;
        }

        return length > 0 ? (double)edits / length : edits == 0 ? 0 : double.PositiveInfinity;
    }
}
