using Lstm.Runtime.Data;

namespace Lstm.Runtime.Training;

/// <summary>
/// An encoder-decoder's decoding state over a batch of rows (each row one source, or one beam of
/// a source): <see cref="Step"/> feeds each row its previous token and returns the next token's
/// logits; <see cref="Select"/> keeps some rows (a row may be kept twice: beams that share a prefix).
/// </summary>
internal interface IStepDecoder : IDisposable
{
    /// <summary>V: the target vocabulary's size.</summary>
    int VocabSize { get; }

    /// <summary>The next token's logits [rows, V], row-major; each row's state advances by one token.</summary>
    /// <param name="previous">Each row's previous token (<c>&lt;bos&gt;</c> first).</param>
    float[] Step(ReadOnlySpan<int> previous);

    /// <summary>Keeps these rows, in this order.</summary>
    /// <param name="rows">Row indices into the current rows.</param>
    void Select(ReadOnlySpan<int> rows);
}

/// <summary>
/// Greedy and beam-search decoding of an encoder-decoder, batched over every source (and beam)
/// at once. Beam search gives each source K slots: per step, each open slot takes one of the best
/// continuations by total log-probability; one that ends in <c>&lt;eos&gt;</c> is a finished
/// hypothesis, scored by its log-probability over its length (tokens with the
/// <c>&lt;eos&gt;</c>), and closes its slot. A source is done when all K are finished, or at the
/// length limit (where its open beams count as finished); the best score wins.
/// <c>&lt;pad&gt;</c> and <c>&lt;bos&gt;</c> are never proposed. With K = 1 it takes the same
/// tokens as greedy decoding.
/// </summary>
internal static class Seq2SeqDecoding
{
    /// <summary>Each row's likeliest token (never <c>&lt;pad&gt;</c> or <c>&lt;bos&gt;</c>) at each step until <c>&lt;eos&gt;</c> or <paramref name="maxLength"/> tokens.</summary>
    /// <param name="decoder">The decoder, one row per source.</param>
    /// <param name="sources">The rows.</param>
    /// <param name="maxLength">The most tokens per output (≥ 1).</param>
    /// <returns>Each source's tokens, without <c>&lt;eos&gt;</c>.</returns>
    public static int[][] Greedy(IStepDecoder decoder, int sources, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        var output = Enumerable.Range(0, sources).Select(_ => new List<int>()).ToArray();
        var active = Enumerable.Range(0, sources).ToList();
        var previous = Enumerable.Repeat(TokenVocabulary.BeginId, sources).ToArray();
        int v = decoder.VocabSize;
        for (int step = 0; step < maxLength && active.Count > 0; step++)
        {
            var logits = decoder.Step(previous);
            var keep = new List<int>();
            var next = new List<int>();
            for (int r = 0; r < active.Count; r++)
            {
                int best = ArgMax(logits.AsSpan(r * v, v));
                if (best == TokenVocabulary.EndId)
                    continue;
                output[active[r]].Add(best);
                keep.Add(r);
                next.Add(best);
            }

            if (keep.Count == 0)
                break;
            if (keep.Count < active.Count)
            {
                decoder.Select(keep.ToArray());
                active = keep.Select(r => active[r]).ToList();
            }

            previous = next.ToArray();
        }

        return output.Select(o => o.ToArray()).ToArray();
    }

    /// <summary>Beam search with <paramref name="beam"/> beams per source.</summary>
    /// <param name="decoder">The decoder, one row per source.</param>
    /// <param name="sources">The rows.</param>
    /// <param name="beam">K (≥ 1).</param>
    /// <param name="maxLength">The most tokens per output (≥ 1).</param>
    /// <returns>Each source's best hypothesis, without <c>&lt;eos&gt;</c>.</returns>
    public static int[][] Beam(IStepDecoder decoder, int sources, int beam, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        if (beam < 1)
            throw new LstmException($"--beam {beam}: must be at least 1");
        int v = decoder.VocabSize;
        var finished = Enumerable.Range(0, sources).Select(_ => new List<(int[] Tokens, double Score)>()).ToArray();
        // The open beams: their source, tokens and total log-probability, one decoder row each.
        var open = Enumerable.Range(0, sources).Select(s => (Source: s, Tokens: Array.Empty<int>(), LogP: 0.0)).ToList();
        var previous = Enumerable.Repeat(TokenVocabulary.BeginId, sources).ToArray();
        for (int step = 0; step < maxLength && open.Count > 0; step++)
        {
            var logits = decoder.Step(previous);
            var rows = new List<int>();
            var next = new List<(int Source, int[] Tokens, double LogP)>();
            int r0 = 0;
            while (r0 < open.Count)
            {
                int source = open[r0].Source;
                int r1 = r0;
                while (r1 < open.Count && open[r1].Source == source)
                    r1++;
                var candidates = new List<(double LogP, int Row, int Token)>();
                for (int r = r0; r < r1; r++)
                {
                    var logp = LogSoftmax(logits.AsSpan(r * v, v));
                    for (int t = 0; t < v; t++)
                    {
                        if (t is not (TokenVocabulary.PadId or TokenVocabulary.BeginId))
                            candidates.Add((open[r].LogP + logp[t], r, t));
                    }
                }

                // Best first; ties by row, then token, so that one beam picks as greedy does. The
                // source's open slots (K less its finished hypotheses) take the best candidates: one
                // that ends is finished and gives up its slot, the others stay open.
                candidates.Sort((a, b) => b.LogP != a.LogP ? b.LogP.CompareTo(a.LogP) : a.Row != b.Row ? a.Row.CompareTo(b.Row) : a.Token.CompareTo(b.Token));
                int slots = beam - finished[source].Count;
                for (int rank = 0; rank < Math.Min(slots, candidates.Count); rank++)
                {
                    var (logP, row, token) = candidates[rank];
                    if (token == TokenVocabulary.EndId)
                    {
                        finished[source].Add((open[row].Tokens, logP / (open[row].Tokens.Length + 1)));
                        continue;
                    }

                    rows.Add(row);
                    next.Add((source, [.. open[row].Tokens, token], logP));
                }

                r0 = r1;
            }

            open = next;
            if (open.Count > 0)
            {
                decoder.Select(rows.ToArray());
                previous = open.Select(o => o.Tokens[^1]).ToArray();
            }
        }

        // At the length limit the open beams count as finished, scored by their own length.
        foreach (var o in open)
            finished[o.Source].Add((o.Tokens, o.LogP / Math.Max(1, o.Tokens.Length)));
        return finished.Select(f => f.Count == 0 ? [] : f.OrderByDescending(h => h.Score).First().Tokens).ToArray();
    }

    /// <summary>The index of the largest value (the first of equals), <c>&lt;pad&gt;</c> and <c>&lt;bos&gt;</c> left out.</summary>
    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = TokenVocabulary.UnknownId;
        for (int i = TokenVocabulary.UnknownId + 1; i < values.Length; i++)
        {
            if (i != TokenVocabulary.BeginId && values[i] > values[best])
                best = i;
        }

        return best;
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> z)
    {
        double max = double.NegativeInfinity;
        foreach (float x in z)
            max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in z)
            sum += Math.Exp(x - max);
        double log = max + Math.Log(sum);
        var result = new double[z.Length];
        for (int i = 0; i < z.Length; i++)
            result[i] = z[i] - log;
        return result;
    }
}
