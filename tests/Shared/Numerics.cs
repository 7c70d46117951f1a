namespace Lstm.Tests.Shared;

/// <summary>Random data from fixed seeds and error measures for comparisons.</summary>
public static class Numerics
{
    /// <summary>n values uniform in [-scale, scale].</summary>
    public static double[] Uniform(Random rng, int n, double scale = 1.0)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++)
            v[i] = (rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    /// <summary>Values rounded to float32 and back (so a float32 device and the float64 reference see the same inputs).</summary>
    public static double[] RoundToFloat(double[] v) => v.Select(d => (double)(float)d).ToArray();

    /// <summary>max |a - b| (NaN if any difference is NaN).</summary>
    public static double MaxAbsError(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count)
            throw new ArgumentException($"lengths differ: {a.Count} and {b.Count}");
        double e = 0;
        for (int i = 0; i < a.Count; i++)
        {
            double d = Math.Abs(a[i] - b[i]);
            if (double.IsNaN(d))
                return double.NaN;
            e = Math.Max(e, d);
        }

        return e;
    }

    /// <summary>max |a - b| / max |b|: the error relative to the largest reference value (the norm used for gradients).</summary>
    public static double MaxRelativeToLargest(IReadOnlyList<double> actual, IReadOnlyList<double> expected)
    {
        double scale = expected.Count == 0 ? 0 : expected.Max(Math.Abs);
        double err = MaxAbsError(actual, expected);
        return scale == 0 ? err : err / scale;
    }

    /// <summary>float values widened to double.</summary>
    public static double[] Widen(float[] v) => v.Select(f => (double)f).ToArray();
}
