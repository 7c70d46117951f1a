using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>Corpus BLEU-4 against values computed by hand: clipping, corpus sums, the brevity penalty and the zero-count case (no smoothing).</summary>
public class BleuTests
{
    private static IReadOnlyList<string> W(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static BleuScore Score(string[] hypotheses, string[] references) =>
        Bleu.Corpus(hypotheses.Select(W).ToList(), references.Select(W).ToList());

    [Fact]
    public void IdenticalSentences_ScoreOne()
    {
        var s = Score(["a b c d e", "x y z w"], ["a b c d e", "x y z w"]);
        Assert.Equal(1, s.Score, 12);
        Assert.Equal(1, s.BrevityPenalty);
        Assert.All(s.Precisions, p => Assert.Equal(1, p, 12));
    }

    [Fact]
    public void Counts_AreClipped_ToTheReference_AndAMissingOrderScoresZero()
    {
        // Papineni's example: 7 "the" proposed, at most 2 in the reference; no bigram matches.
        var s = Score(["the the the the the the the"], ["the cat is on the mat"]);
        Assert.Equal(2.0 / 7, s.Precisions[0], 12);
        Assert.Equal(0, s.Precisions[1]);
        Assert.Equal(0, s.Score);
        var clipped = Score(["a a b"], ["a b b"]);
        Assert.Equal(2.0 / 3, clipped.Precisions[0], 12);
    }

    [Fact]
    public void ShortHypotheses_PayTheBrevityPenalty()
    {
        // Every n-gram matches; c = 4 against r = 6: BP = exp(1 − 6/4).
        var s = Score(["a b c d"], ["a b c d e f"]);
        Assert.Equal(Math.Exp(-0.5), s.BrevityPenalty, 12);
        Assert.Equal(Math.Exp(-0.5), s.Score, 12);
        Assert.Equal(4, s.HypothesisLength);
        Assert.Equal(6, s.ReferenceLength);
        // Longer hypotheses are not penalized for length.
        Assert.Equal(1, Score(["a b c d e f g"], ["a b c d"]).BrevityPenalty);
    }

    [Fact]
    public void Precisions_AreSummedOverTheCorpus_NotAveragedPerSentence()
    {
        // Sentence 1 matches all; sentence 2 ("a b x d" for "a b c d") matches 3 unigrams, 1 bigram, nothing longer.
        var s = Score(["a b c d e", "a b x d"], ["a b c d e", "a b c d"]);
        double[] expected = [8.0 / 9, 5.0 / 7, 3.0 / 5, 2.0 / 3];
        for (int n = 0; n < 4; n++)
            Assert.Equal(expected[n], s.Precisions[n], 12);
        Assert.Equal(Math.Pow(expected.Aggregate(1.0, (a, b) => a * b), 0.25), s.Score, 12);
        // The second sentence alone has no 3-gram match: 0 without smoothing.
        Assert.Equal(0, Score(["a b x d"], ["a b c d"]).Score);
    }

    [Fact]
    public void HypothesesShorterThanAnOrder_AndEmptyOnes_ScoreZero()
    {
        Assert.Equal(0, Score(["a b c"], ["a b c"]).Score);
        var empty = Score([""], ["a b"]);
        Assert.Equal(0, empty.Score);
        Assert.Equal(0, empty.BrevityPenalty);
        Assert.Equal(1, Bleu.Corpus(new[] { W("a b c") }, new[] { W("a b c") }, order: 3).Score, 12);
    }

    [Fact]
    public void TokensAreCompared_Whole()
    {
        // ("ab", "c") and ("a", "bc") share no bigram even though their letters run the same.
        var s = Bleu.Corpus(new[] { W("ab c") }, new[] { W("a bc") }, order: 1);
        Assert.Equal(0, s.Precisions[0]);
        Assert.Throws<LstmException>(() => Bleu.Corpus(new[] { W("a") }, Array.Empty<IReadOnlyList<string>>()));
    }
}
