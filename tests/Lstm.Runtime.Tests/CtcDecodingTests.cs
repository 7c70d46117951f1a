using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>Greedy CTC decoding, the edit distance and the label error rate.</summary>
public class CtcDecodingTests
{
    private static double[] OneHotScores(int classes, params int[] path)
    {
        var s = new double[path.Length * classes];
        for (int t = 0; t < path.Length; t++)
            s[t * classes + path[t]] = 1;
        return s;
    }

    [Theory]
    [InlineData(new[] { 1, 1, 0, 1, 2, 2, 0 }, new[] { 1, 1, 2 })]
    [InlineData(new[] { 0, 0, 0 }, new int[0])]
    [InlineData(new[] { 2, 0, 0, 2, 3, 0, 3 }, new[] { 2, 2, 3, 3 })]
    [InlineData(new[] { 3 }, new[] { 3 })]
    public void Greedy_MergesRepeats_ThenDropsBlanks(int[] path, int[] expected) =>
        Assert.Equal(expected, CtcDecoding.Greedy<double>(OneHotScores(4, path), 4));

    [Fact]
    public void Greedy_TakesTheFirstOfEqualScores() =>
        Assert.Equal([2], CtcDecoding.Greedy<float>([0f, 0.1f, 0.5f, 0.5f, 0.7f, 0.7f, 0.7f, 0.7f], 4));

    [Fact]
    public void Greedy_OverATensor_ReadsEachRowsLengthInEitherLayout()
    {
        var dev = TestDevices.Get("cpu");
        // Row 0 path 1 1 0 2, row 1 path 2 0 2 [1] with the last step past its length.
        var rows = new[] { OneHotScores(3, 1, 1, 0, 2), OneHotScores(3, 2, 0, 2, 1) };
        var timeMajor = new float[4 * 2 * 3];
        var batchMajor = new float[4 * 2 * 3];
        for (int b = 0; b < 2; b++)
        {
            for (int t = 0; t < 4; t++)
            {
                for (int c = 0; c < 3; c++)
                {
                    timeMajor[(t * 2 + b) * 3 + c] = (float)rows[b][t * 3 + c];
                    batchMajor[(b * 4 + t) * 3 + c] = (float)rows[b][t * 3 + c];
                }
            }
        }

        using var tm = Tensor<float>.FromArray(dev, timeMajor, 4, 2, 3);
        using var bm = Tensor<float>.FromArray(dev, batchMajor, 2, 4, 3);
        int[][] expected = [[1, 2], [2, 2]];
        Assert.Equal(expected, CtcDecoding.Greedy(tm, [4, 3]));
        Assert.Equal(expected, CtcDecoding.Greedy(bm, [4, 3], batchFirst: true));
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 2, 3 }, 0)]
    [InlineData(new int[0], new[] { 1, 2, 3 }, 3)]
    [InlineData(new[] { 1, 2, 3 }, new int[0], 3)]
    [InlineData(new[] { 1, 3 }, new[] { 1, 2, 3 }, 1)]
    [InlineData(new[] { 2, 1, 3 }, new[] { 1, 2, 3 }, 2)]
    [InlineData(new[] { 4, 5, 6, 7 }, new[] { 5, 6, 7, 8 }, 2)]
    public void EditDistance_IsLevenshtein(int[] a, int[] b, int expected)
    {
        Assert.Equal(expected, CtcDecoding.EditDistance(a, b));
        Assert.Equal(expected, CtcDecoding.EditDistance(b, a));
    }

    [Fact]
    public void EditDistance_MatchesAFullTable_OnRandomSequences()
    {
        var rng = new Random(3);
        for (int k = 0; k < 200; k++)
        {
            var a = Enumerable.Range(0, rng.Next(0, 9)).Select(_ => rng.Next(1, 4)).ToArray();
            var b = Enumerable.Range(0, rng.Next(0, 9)).Select(_ => rng.Next(1, 4)).ToArray();
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++)
            {
                for (int j = 0; j <= b.Length; j++)
                {
                    d[i, j] = i == 0 ? j : j == 0 ? i
                        : Math.Min(d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1), Math.Min(d[i - 1, j], d[i, j - 1]) + 1);
                }
            }

            Assert.Equal(d[a.Length, b.Length], CtcDecoding.EditDistance(a, b));
        }
    }

    [Fact]
    public void ErrorRate_IsTotalEditsOverTotalReferenceLength()
    {
        Assert.Equal(2.0 / 7, CtcDecoding.ErrorRate([[1, 3], [4, 4, 4, 1]], [[1, 2, 3], [4, 4, 4, 4]]), 1e-15);
        Assert.Equal(0, CtcDecoding.ErrorRate([[]], [[]]));
        Assert.Equal(double.PositiveInfinity, CtcDecoding.ErrorRate([[1]], [[]]));
        Assert.Equal("CTC error rate: 1 hypotheses for 2 references",
            Assert.Throws<LstmException>(() => CtcDecoding.ErrorRate([[1]], [[1], [2]])).Message);
    }
}
