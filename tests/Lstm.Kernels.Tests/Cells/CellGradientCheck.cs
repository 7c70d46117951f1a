using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// Checks a cell's float64 backward reference against central finite differences of its forward
/// reference: with loss = Σ dh ⊙ h_t, every gradient the backward step returns is d loss / d input.
/// </summary>
/// <param name="output">Where the errors are written.</param>
public abstract class CellGradientCheck(ITestOutputHelper output)
{
    protected const double Eps = 1e-6;

    // Central differences of smooth functions of magnitude ~1 with ε = 1e-6: error ~1e-9.
    protected const double Tolerance = 1e-7;

    protected static readonly (int B, int H)[] Sizes = [(1, 1), (2, 3), (3, 5)];

    protected static double[] ColumnSums(double[] m, int rows, int cols)
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
    protected void AssertGradient(double[] analytic, double[] values, Func<double> loss, string what)
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
