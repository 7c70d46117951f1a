using System.Text.Json;

namespace Lstm.Runtime.Data;

/// <summary>
/// Per-column z-score statistics, saved alongside a model (JSON) so inference normalizes inputs
/// and de-normalizes predictions exactly as training did: z = (v - mean) / std with the
/// population standard deviation; a constant column gets std 1.
/// </summary>
/// <param name="Columns">Column names.</param>
/// <param name="Mean">Mean of each column.</param>
/// <param name="Std">Standard deviation of each column (&gt; 0).</param>
public sealed record ZScoreStatistics(IReadOnlyList<string> Columns, IReadOnlyList<double> Mean, IReadOnlyList<double> Std)
{
    /// <summary>Fits the statistics of rows [0, rows) of a row-major table [rows, C].</summary>
    /// <param name="columns">C names.</param>
    /// <param name="values">[rows, C] row-major.</param>
    /// <param name="rows">How many leading rows to fit on (the training part).</param>
    public static ZScoreStatistics Fit(IReadOnlyList<string> columns, ReadOnlySpan<double> values, int rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        int c = columns.Count;
        if (rows <= 0 || (long)rows * c > values.Length)
            throw new LstmException($"z-score statistics need at least one row (got {rows} of {(c == 0 ? 0 : values.Length / c)})");
        var mean = new double[c];
        var std = new double[c];
        for (int j = 0; j < c; j++)
        {
            double s = 0;
            for (int r = 0; r < rows; r++)
                s += values[r * c + j];
            mean[j] = s / rows;
            double q = 0;
            for (int r = 0; r < rows; r++)
            {
                double d = values[r * c + j] - mean[j];
                q += d * d;
            }

            double sd = Math.Sqrt(q / rows);
            if (!double.IsFinite(mean[j]) || !double.IsFinite(sd))
                throw Overflow(columns[j], values, rows, c, j);
            std[j] = sd > 0 ? sd : 1;
        }

        return new ZScoreStatistics(columns.ToArray(), mean, std);
    }

    /// <summary>The error of a column whose sum or sum of squares overflows float64: it names the row of the largest value.</summary>
    private static LstmException Overflow(string column, ReadOnlySpan<double> values, int rows, int c, int j)
    {
        int worst = 0;
        for (int r = 1; r < rows; r++)
        {
            if (Math.Abs(values[r * c + j]) > Math.Abs(values[worst * c + j]))
                worst = r;
        }

        string v = values[worst * c + j].ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        return new LstmException($"data row {worst + 1}, column '{column}': the value {v} is too large for z-score statistics (the column's sum of squares overflows float64); rescale the column");
    }

    /// <summary>Normalizes a row-major table [rows, C] in place.</summary>
    /// <param name="values">[rows, C].</param>
    public void Normalize(Span<double> values)
    {
        int c = Columns.Count;
        for (int e = 0; e < values.Length; e++)
            values[e] = (values[e] - Mean[e % c]) / Std[e % c];
    }

    /// <summary>The value of column <paramref name="column"/> before normalization.</summary>
    /// <param name="column">Column index.</param>
    /// <param name="z">A normalized value.</param>
    public double Denormalize(int column, double z) => z * Std[column] + Mean[column];

    /// <summary>Writes the statistics as JSON.</summary>
    /// <param name="path">The file.</param>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, DataJson.Default.ZScoreStatistics));

    /// <summary>Reads statistics written by <see cref="Save"/>.</summary>
    /// <param name="path">The file.</param>
    public static ZScoreStatistics Load(string path)
    {
        try
        {
            var s = JsonSerializer.Deserialize(File.ReadAllText(path), DataJson.Default.ZScoreStatistics)
                ?? throw new LstmException($"{path}: the statistics file is empty");
            if (s.Columns is null || s.Mean is null || s.Std is null || s.Mean.Count != s.Columns.Count || s.Std.Count != s.Columns.Count)
                throw new LstmException($"{path}: columns, mean and std must be lists of equal length");
            if (s.Std.Any(v => !(v > 0) || double.IsInfinity(v)))
                throw new LstmException($"{path}: every std must be a finite number > 0");
            return s;
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: not a statistics file: {e.Message}", e);
        }
    }
}
