using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>Greedy and beam-search decoding against hand-made scorers: beam search finds what greedy misses, one beam is greedy, and batching changes nothing.</summary>
public class BeamSearchTests
{
    /// <summary>A decoder whose logits are a function of (source, tokens so far); it counts the rows it is asked to step.</summary>
    private sealed class TableDecoder(int vocab, Func<int, IReadOnlyList<int>, float[]> logits, int sources) : IStepDecoder
    {
        private List<(int Source, List<int> Prefix)> _rows = Enumerable.Range(0, sources).Select(s => (s, new List<int>())).ToList();

        public int VocabSize => vocab;

        public int RowsStepped { get; private set; }

        public float[] Step(ReadOnlySpan<int> previous)
        {
            Assert.Equal(_rows.Count, previous.Length);
            var result = new float[_rows.Count * vocab];
            for (int r = 0; r < _rows.Count; r++)
            {
                if (previous[r] != 2)
                    _rows[r].Prefix.Add(previous[r]);
                else
                    Assert.Empty(_rows[r].Prefix);
                logits(_rows[r].Source, _rows[r].Prefix).CopyTo(result, r * vocab);
            }

            RowsStepped += _rows.Count;
            return result;
        }

        public void Select(ReadOnlySpan<int> rows)
        {
            Assert.False(rows.IsEmpty, "a decoder state keeps at least one row");
            var kept = new List<(int, List<int>)>();
            foreach (int r in rows)
                kept.Add((_rows[r].Source, new List<int>(_rows[r].Prefix)));
            _rows = kept;
        }

        public void Dispose()
        {
        }
    }

    // Tokens: 0 pad, 1 unk, 2 bos, 3 eos, 4 A, 5 B.
    private static float[] LogProbs(double eos, double a, double b)
    {
        double rest = 1 - eos - a - b;
        return [float.NegativeInfinity, (float)Math.Log(rest), float.NegativeInfinity, (float)Math.Log(eos), (float)Math.Log(a), (float)Math.Log(b)];
    }

    /// <summary>First A (0.5) or B (0.4); after A the end is 0.4 likely, after B 0.9; after two tokens the end is certain.</summary>
    private static float[] GardenPath(int source, IReadOnlyList<int> prefix) => prefix.Count switch
    {
        0 => LogProbs(0.05, 0.5, 0.4),
        1 when prefix[0] == 4 => LogProbs(0.4, 0.3, 0.25),
        1 => LogProbs(0.9, 0.04, 0.04),
        _ => LogProbs(0.97, 0.01, 0.01),
    };

    [Fact]
    public void Greedy_TakesTheLikeliestToken_ButBeamFindsTheLikelierSequence()
    {
        Assert.Equal([4], Seq2SeqDecoding.Greedy(new TableDecoder(6, GardenPath, 1), 1, 10)[0]);
        // A then end: (ln 0.5 + ln 0.4) / 2 = −0.80; B then end: (ln 0.4 + ln 0.9) / 2 = −0.51.
        Assert.Equal([5], Seq2SeqDecoding.Beam(new TableDecoder(6, GardenPath, 1), 1, 2, 10)[0]);
        Assert.Equal([4], Seq2SeqDecoding.Beam(new TableDecoder(6, GardenPath, 1), 1, 1, 10)[0]);
    }

    [Fact]
    public void Decoding_StopsAtTheLengthLimit_AndNeverProposesPaddingOrBegin()
    {
        // A scorer that never ends and likes padding and <bos> most.
        static float[] Endless(int source, IReadOnlyList<int> prefix) => [9f, 0f, 9f, -5f, 1f + source, 1.5f];
        var greedy = Seq2SeqDecoding.Greedy(new TableDecoder(6, Endless, 2), 2, 4);
        Assert.Equal([5, 5, 5, 5], greedy[0]);
        Assert.Equal([4, 4, 4, 4], greedy[1]);
        var beam = Seq2SeqDecoding.Beam(new TableDecoder(6, Endless, 2), 2, 3, 4);
        Assert.Equal(greedy, beam);
    }

    private static float[] Random(int source, IReadOnlyList<int> prefix, int vocab)
    {
        int hash = source * 7919;
        foreach (int t in prefix)
            hash = (hash * 31) + t;
        var rng = new Random(hash);
        var z = new float[vocab];
        for (int i = 0; i < vocab; i++)
            z[i] = (float)(rng.NextDouble() * 4);
        z[3] += prefix.Count * 0.6f; // the end grows likelier with length
        return z;
    }

    [Fact]
    public void OneBeam_IsGreedy_AndBatchingChangesNoSourcesResult()
    {
        const int vocab = 9, sources = 12;
        var greedy = Seq2SeqDecoding.Greedy(new TableDecoder(vocab, (s, p) => Random(s, p, vocab), sources), sources, 15);
        var oneBeam = Seq2SeqDecoding.Beam(new TableDecoder(vocab, (s, p) => Random(s, p, vocab), sources), sources, 1, 15);
        Assert.Equal(greedy, oneBeam);
        Assert.Throws<LstmException>(() => Seq2SeqDecoding.Beam(new TableDecoder(vocab, (s, p) => Random(s, p, vocab), 1), 1, 0, 5));
        Assert.Contains(greedy, g => g.Length > 1);
        foreach (int k in new[] { 2, 4 })
        {
            var batched = Seq2SeqDecoding.Beam(new TableDecoder(vocab, (s, p) => Random(s, p, vocab), sources), sources, k, 15);
            for (int s = 0; s < sources; s++)
            {
                int source = s;
                var alone = Seq2SeqDecoding.Beam(new TableDecoder(vocab, (_, p) => Random(source, p, vocab), 1), 1, k, 15);
                Assert.Equal(alone[0], batched[s]);
            }
        }
    }
}
