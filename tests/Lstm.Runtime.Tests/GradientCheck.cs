using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Tests;

/// <summary>A model's analytic parameter gradients checked against central finite differences in float64.</summary>
internal static class GradientCheck
{
    /// <summary>
    /// For about <paramref name="samples"/> values of each parameter (every value where it has fewer),
    /// (loss(v + h) − loss(v − h)) / 2h against the gradient the parameter holds, asserted within
    /// 1e-7 + 1e-5·|numeric|; each value is put back after. Returns the worst |analytic − numeric|.
    /// </summary>
    /// <param name="parameters">The model's named parameters, their gradients already computed.</param>
    /// <param name="loss">The loss at the parameters' current values.</param>
    /// <param name="samples">Values checked per parameter.</param>
    public static double Parameters(IEnumerable<(string Name, Parameter<double> Parameter)> parameters, Func<double> loss, int samples)
    {
        const double h = 1e-6;
        double worst = 0;
        foreach (var (name, p) in parameters)
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            for (int i = 0; i < values.Length; i += Math.Max(1, values.Length / samples))
            {
                double v = values[i];
                values[i] = v + h;
                p.Value.CopyFrom(values);
                double up = loss();
                values[i] = v - h;
                p.Value.CopyFrom(values);
                double down = loss();
                values[i] = v;
                p.Value.CopyFrom(values);
                double numeric = (up - down) / (2 * h);
                worst = Math.Max(worst, Math.Abs(numeric - analytic[i]));
                Assert.True(Math.Abs(numeric - analytic[i]) < 1e-7 + 1e-5 * Math.Abs(numeric), $"{name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
            }
        }

        return worst;
    }
}
