namespace Lstm.Runtime.Training;

/// <summary>A corpus BLEU score and its parts.</summary>
/// <param name="Score">BLEU in [0, 1].</param>
/// <param name="Precisions">The clipped n-gram precisions p₁ … p_N (0 where no n-gram of that order was proposed).</param>
/// <param name="BrevityPenalty">1 when the hypotheses are longer than the references, else exp(1 − r / c) (0 when c = 0).</param>
/// <param name="HypothesisLength">c: the hypotheses' tokens.</param>
/// <param name="ReferenceLength">r: the references' tokens.</param>
public sealed record BleuScore(double Score, IReadOnlyList<double> Precisions, double BrevityPenalty, long HypothesisLength, long ReferenceLength);

/// <summary>
/// Corpus-level BLEU (Papineni et al. 2002) with one reference per hypothesis and no smoothing:
/// for n = 1 … N, p_n = Σ clipped matches / Σ proposed n-grams over the whole corpus, where a
/// hypothesis n-gram's matches are clipped to its count in the reference; BLEU =
/// BP · exp(Σ (1/N) log p_n) with BP = min(1, exp(1 − r/c)). Without smoothing, a corpus with
/// no match of some order (or no n-gram of it) scores 0.
/// </summary>
public static class Bleu
{
    /// <summary>The highest n-gram order by default (BLEU-4).</summary>
    public const int DefaultOrder = 4;

    /// <summary>The corpus BLEU of token sequences.</summary>
    /// <typeparam name="TToken">The token type (ids or strings).</typeparam>
    /// <param name="hypotheses">Each hypothesis's tokens.</param>
    /// <param name="references">Each hypothesis's reference tokens, in the same order.</param>
    /// <param name="order">N (≥ 1).</param>
    /// <exception cref="LstmException">The counts differ or the order is below 1.</exception>
    public static BleuScore Corpus<TToken>(IReadOnlyList<IReadOnlyList<TToken>> hypotheses, IReadOnlyList<IReadOnlyList<TToken>> references, int order = DefaultOrder)
        where TToken : notnull
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new LstmException($"BLEU: {hypotheses.Count} hypotheses and {references.Count} references");
        if (order < 1)
            throw new LstmException($"BLEU: order {order} must be at least 1");
        var matches = new long[order];
        var proposed = new long[order];
        long c = 0, r = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var h = hypotheses[i];
            var reference = references[i];
            c += h.Count;
            r += reference.Count;
            for (int n = 1; n <= order; n++)
            {
                if (h.Count < n)
                    continue;
                proposed[n - 1] += h.Count - n + 1;
                var available = Counts(reference, n);
                foreach (var (gram, count) in Counts(h, n))
                    matches[n - 1] += Math.Min(count, available.GetValueOrDefault(gram));
            }
        }

        var precisions = new double[order];
        double logSum = 0;
        for (int n = 0; n < order; n++)
        {
            precisions[n] = proposed[n] > 0 ? (double)matches[n] / proposed[n] : 0;
            logSum += precisions[n] > 0 ? Math.Log(precisions[n]) / order : double.NegativeInfinity;
        }

        double bp = c == 0 ? 0 : c > r ? 1 : Math.Exp(1 - ((double)r / c));
        double score = c == 0 || double.IsNegativeInfinity(logSum) ? 0 : bp * Math.Exp(logSum);
        return new BleuScore(score, precisions, bp, c, r);
    }

    /// <summary>Each n-gram of a sequence with its count (an n-gram as its tokens joined into one key).</summary>
    private static Dictionary<string, int> Counts<TToken>(IReadOnlyList<TToken> tokens, int n)
        where TToken : notnull
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k + n <= tokens.Count; k++)
        {
            // A separator that no token's text holds keeps (ab, c) apart from (a, bc).
            string key = string.Join('\u001F', Enumerable.Range(k, n).Select(j => tokens[j].ToString()));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return counts;
    }
}
