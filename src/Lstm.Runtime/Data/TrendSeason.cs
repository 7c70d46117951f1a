using System.Globalization;
using System.Text;

namespace Lstm.Runtime.Data;

/// <summary>
/// A trending, seasonal, noisy series for forecasting examples and tests:
/// x_t = level + slope·t + amplitude·sin(2π t / period) + noise·ε_t, ε_t standard normal (Box–Muller
/// from the seed), one row per day from 2020-01-01.
/// </summary>
/// <param name="Slope">The trend per row.</param>
/// <param name="Amplitude">The season's amplitude.</param>
/// <param name="Period">The season's length in rows (≥ 2).</param>
/// <param name="Noise">The noise's standard deviation (≥ 0).</param>
/// <param name="Level">The value at t = 0 less the season.</param>
public sealed record TrendSeason(double Slope = 0.05, double Amplitude = 3, int Period = 7, double Noise = 0.3, double Level = 10)
{
    /// <summary>The first row's date.</summary>
    public static DateTime Start { get; } = new(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The series: one column <c>value</c> of <paramref name="length"/> rows.</summary>
    /// <param name="length">Rows (≥ 1).</param>
    /// <param name="seed">The noise's seed.</param>
    public TimeSeries Series(int length, int seed)
    {
        if (length < 1)
            throw new LstmException($"trend-season series of {length} rows: must be ≥ 1");
        if (Period < 2 || !(Noise >= 0))
            throw new LstmException($"trend-season: period {Period} must be ≥ 2 and noise {Noise} ≥ 0");
        var rng = new Random(seed);
        var values = new double[length];
        for (int t = 0; t < length; t++)
        {
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            double e = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            values[t] = Level + Slope * t + Amplitude * Math.Sin(2 * Math.PI * t / Period) + Noise * e;
        }

        return new TimeSeries(["value"], values, length);
    }

    /// <summary>The series as CSV text: a header <c>date,value</c> and one row per day, values to 4 decimals.</summary>
    /// <param name="length">Rows.</param>
    /// <param name="seed">The noise's seed.</param>
    public string Csv(int length, int seed)
    {
        var series = Series(length, seed);
        var text = new StringBuilder("date,value\n");
        for (int t = 0; t < length; t++)
            text.Append(CultureInfo.InvariantCulture, $"{Start.AddDays(t):yyyy-MM-dd},{series.Values[t]:F4}\n");
        return text.ToString();
    }
}
