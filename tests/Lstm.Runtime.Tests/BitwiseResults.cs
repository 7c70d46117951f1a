using Lstm.Runtime.Recurrent;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Two float32 or float64 runs of the same computation (a schedule against the plain one), their results and
/// gradients by name, compared bit for bit; and the random inputs they start from.
/// </summary>
internal static class BitwiseResults
{
    /// <summary>n values uniform in [-1, 1), in float32.</summary>
    public static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int k = 0; k < n; k++)
            v[k] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>Adds an LSTM training pass's results by name: output, h_n, c_n, dx, dh0, dc0.</summary>
    /// <param name="all">The run's values by name.</param>
    /// <param name="forward">The training forward.</param>
    /// <param name="grads">Its backward.</param>
    public static void AddLstm(Dictionary<string, float[]> all, LSTMResult<float> forward, LSTMGradients<float> grads)
    {
        all["output"] = forward.Output.ToArray();
        all["h_n"] = forward.HN.ToArray();
        all["c_n"] = forward.CN.ToArray();
        all["dx"] = grads.DX.ToArray();
        all["dh0"] = grads.DH0.ToArray();
        all["dc0"] = grads.DC0.ToArray();
    }

    /// <summary>Both runs give the same names, each non-empty and every value bit-identical.</summary>
    /// <param name="expected">The plain run's values by name.</param>
    /// <param name="actual">The scheduled run's values by name.</param>
    /// <param name="context">What ran where, leading the failure message (e.g. <c>lstm on cpu</c>).</param>
    /// <param name="actualRun">The scheduled run's name in the message.</param>
    /// <param name="expectedRun">The plain run's name in the message.</param>
    public static void AssertEqual(
        IReadOnlyDictionary<string, float[]> expected, IReadOnlyDictionary<string, float[]> actual, string context, string actualRun, string expectedRun) =>
        AssertSame(expected, actual, context, actualRun, expectedRun, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b));

    /// <summary>The float64 form of <see cref="AssertEqual(IReadOnlyDictionary{string, float[]}, IReadOnlyDictionary{string, float[]}, string, string, string)"/>.</summary>
    /// <param name="expected">The plain run's values by name.</param>
    /// <param name="actual">The scheduled run's values by name.</param>
    /// <param name="context">What ran where, leading the failure message.</param>
    /// <param name="actualRun">The scheduled run's name in the message.</param>
    /// <param name="expectedRun">The plain run's name in the message.</param>
    public static void AssertEqual(
        IReadOnlyDictionary<string, double[]> expected, IReadOnlyDictionary<string, double[]> actual, string context, string actualRun, string expectedRun) =>
        AssertSame(expected, actual, context, actualRun, expectedRun, (a, b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b));

    private static void AssertSame<T>(
        IReadOnlyDictionary<string, T[]> expected, IReadOnlyDictionary<string, T[]> actual, string context, string actualRun, string expectedRun, Func<T, T, bool> same)
        where T : IFormattable
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, want) in expected)
        {
            var got = actual[name];
            Assert.Equal(want.Length, got.Length);
            Assert.True(want.Length > 0, $"{name} is empty");
            for (int k = 0; k < want.Length; k++)
            {
                if (!same(want[k], got[k]))
                    Assert.Fail($"{context}: {name}[{k}] is {got[k].ToString("R", null)} {actualRun}, {want[k].ToString("R", null)} {expectedRun}");
            }
        }
    }
}
