using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The float64 backward references of the GRU and RNN cells against central finite differences of
/// their forward references: with loss = Σ dh ⊙ h_t, every gradient the backward step returns is
/// d loss / d input.
/// </summary>
public class CellReferenceGradientTests(ITestOutputHelper output)
{
    private const double Eps = 1e-6;

    // Central differences of smooth functions of magnitude ~1 with ε = 1e-6: error ~1e-9.
    private const double Tolerance = 1e-7;

    private static readonly (int B, int H)[] Sizes = [(1, 1), (2, 3), (3, 5)];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GruCellBackward_MatchesFiniteDifferencesOfForward(bool bias)
    {
        var rng = new Random(21);
        foreach (var (batch, hidden) in Sizes)
        {
            int g = 3 * hidden;
            int bh = batch * hidden;
            var xproj = Numerics.Uniform(rng, batch * g, 2);
            var hproj = Numerics.Uniform(rng, batch * g, 2);
            var bih = bias ? Numerics.Uniform(rng, g) : [];
            var bhh = bias ? Numerics.Uniform(rng, g) : [];
            var hPrev = Numerics.Uniform(rng, bh);
            var dh = Numerics.Uniform(rng, bh);
            double Loss()
            {
                var h = new double[bh];
                GruCellReference.Forward(batch, hidden, xproj, hproj, bih, bhh, hPrev, h, []);
                return h.Zip(dh, (a, b) => a * b).Sum();
            }

            var acts = new double[batch * 4 * hidden];
            GruCellReference.Forward(batch, hidden, xproj, hproj, bih, bhh, hPrev, new double[bh], acts);
            var dgX = new double[batch * g];
            var dgH = new double[batch * g];
            var dPrev = new double[bh];
            GruCellReference.Backward(batch, hidden, dh, acts, hPrev, dgX, dgH, dPrev);
            string at = $"B={batch} H={hidden} bias={bias}";
            AssertGradient(dgX, xproj, Loss, $"d xproj {at}");
            AssertGradient(dgH, hproj, Loss, $"d hproj {at}");
            AssertGradient(dPrev, hPrev, Loss, $"d h_(t-1) direct {at}");
            if (bias)
            {
                AssertGradient(ColumnSums(dgX, batch, g), bih, Loss, $"d b_ih {at}");
                AssertGradient(ColumnSums(dgH, batch, g), bhh, Loss, $"d b_hh {at}");
            }
        }
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void RnnCellBackward_MatchesFiniteDifferencesOfForward(bool relu, bool bias)
    {
        var rng = new Random(23);
        foreach (var (batch, hidden) in Sizes)
        {
            int bh = batch * hidden;
            var xproj = Numerics.Uniform(rng, bh, 2);
            var hproj = Numerics.Uniform(rng, bh, 2);
            var bih = bias ? Numerics.Uniform(rng, hidden) : [];
            var bhh = bias ? Numerics.Uniform(rng, hidden) : [];
            var dh = Numerics.Uniform(rng, bh);
            double Loss()
            {
                var h = new double[bh];
                RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bih, bhh, h);
                return h.Zip(dh, (a, b) => a * b).Sum();
            }

            var hOut = new double[bh];
            RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bih, bhh, hOut);
            var dg = new double[bh];
            RnnCellReference.Backward(batch, hidden, relu, dh, hOut, dg);
            string at = $"{(relu ? "relu" : "tanh")} B={batch} H={hidden} bias={bias}";
            AssertGradient(dg, xproj, Loss, $"d xproj {at}");
            AssertGradient(dg, hproj, Loss, $"d hproj {at}");
            if (bias)
            {
                AssertGradient(ColumnSums(dg, batch, hidden), bih, Loss, $"d b_ih {at}");
                AssertGradient(ColumnSums(dg, batch, hidden), bhh, Loss, $"d b_hh {at}");
            }
        }
    }

    private static double[] ColumnSums(double[] m, int rows, int cols)
    {
        var s = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                s[c] += m[r * cols + c];
        }

        return s;
    }

    /// <summary>Checks analytic[i] = d loss / d values[i] by central differences, perturbing values in place.</summary>
    private void AssertGradient(double[] analytic, double[] values, Func<double> loss, string what)
    {
        var numeric = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            values[i] = v + Eps;
            double up = loss();
            values[i] = v - Eps;
            double down = loss();
            values[i] = v;
            numeric[i] = (up - down) / (2 * Eps);
        }

        double err = Numerics.MaxAbsError(analytic, numeric);
        output.WriteLine($"{what}: max |analytic - numeric| {err:E2}");
        Assert.True(err <= Tolerance, $"{what}: max |analytic - numeric| {err:E2} > {Tolerance:E0}");
    }
}
