using System.Globalization;
using CsvHelper;
using CsvHelper.Configuration;

namespace Lstm.Runtime.Data;

/// <summary>What to do with a missing or non-numeric value in a CSV time series.</summary>
public enum MissingValues
{
    /// <summary>Stop with an <see cref="LstmException"/> naming the file, line and column.</summary>
    Error,

    /// <summary>Drop the whole row.</summary>
    DropRow,

    /// <summary>Use the column's value on the previous kept row (an error on the first row).</summary>
    FillPrevious,

    /// <summary>Use 0.</summary>
    FillZero,
}

/// <summary>
/// Named numeric columns, one row per time step: read from a CSV file with a header row
/// (<see cref="ReadCsv"/>, values as invariant-culture numbers such as <c>1.5</c> or <c>-2e-3</c>)
/// or generated (<see cref="MackeyGlass"/>).
/// </summary>
/// <param name="Columns">The chosen column names, in the order asked.</param>
/// <param name="Values">[Rows, Columns.Count] row-major.</param>
/// <param name="Rows">Kept rows.</param>
public sealed record TimeSeries(IReadOnlyList<string> Columns, double[] Values, int Rows)
{
    /// <summary>Reads the named columns of a CSV file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="columns">Header names to read (each once).</param>
    /// <param name="missing">What to do with an empty or non-numeric value.</param>
    /// <exception cref="LstmException">The file cannot be read, a column is absent, or a value is bad under <see cref="MissingValues.Error"/>.</exception>
    public static TimeSeries ReadCsv(string path, IReadOnlyList<string> columns, MissingValues missing = MissingValues.Error)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0)
            throw new LstmException($"{path}: no columns were chosen");
        var duplicate = columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new LstmException($"{path}: column '{duplicate.Key}' is chosen twice");
        try
        {
            using var reader = new StreamReader(path);
            return Read(reader, path, columns, missing);
        }
        catch (IOException e)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The header of a CSV file and the raw text of one column on every non-blank data row (the
    /// first column when <paramref name="column"/> is null), for the time axis of a forecast.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="column">The column's name, or null for the first.</param>
    /// <returns>The column's name and values, or null when the file has no such column.</returns>
    /// <exception cref="LstmException">The file cannot be read.</exception>
    public static (string Column, string[] Values)? ReadTextColumn(string path, string? column)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var reader = new StreamReader(path);
            var config = new CsvConfiguration(CultureInfo.InvariantCulture) { TrimOptions = TrimOptions.Trim, DetectColumnCountChanges = false };
            using var csv = new CsvReader(reader, config);
            if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
                return null;
            int index = column is null ? 0 : Array.IndexOf(header, column);
            if (index < 0)
                return null;
            var values = new List<string>();
            while (csv.Read())
            {
                var record = csv.Parser.Record ?? [];
                if (record.Length == 1 && record[0].Length == 0)
                    continue;
                values.Add(index < record.Length ? record[index] : string.Empty);
            }

            return (header[index], values.ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CsvHelperException)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
    }

    private static TimeSeries Read(TextReader text, string path, IReadOnlyList<string> columns, MissingValues missing)
    {
        var config = new CsvConfiguration(CultureInfo.InvariantCulture) { TrimOptions = TrimOptions.Trim, DetectColumnCountChanges = false };
        using var csv = new CsvReader(text, config);
        try
        {
            if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is not { Length: > 0 } header)
                throw new LstmException($"{path}: the file is empty (a header row naming the columns is expected)");
            var index = new int[columns.Count];
            for (int k = 0; k < columns.Count; k++)
            {
                index[k] = Array.IndexOf(header, columns[k]);
                if (index[k] < 0)
                    throw new LstmException($"{path}: no column '{columns[k]}' in the header (columns: {string.Join(", ", header)})");
            }

            var values = new List<double>();
            var row = new double[columns.Count];
            int rows = 0;
            while (csv.Read())
            {
                int line = csv.Parser.RawRow;
                var record = csv.Parser.Record ?? [];
                if (record.Length == 1 && record[0].Length == 0)
                    continue; // A blank line.
                bool drop = false;
                for (int k = 0; k < columns.Count && !drop; k++)
                {
                    string raw = index[k] < record.Length ? record[index[k]] : string.Empty;
                    if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v))
                    {
                        row[k] = v;
                        continue;
                    }

                    string problem = raw.Length == 0 ? "missing value" : $"'{raw}' is not a number";
                    switch (missing)
                    {
                        case MissingValues.DropRow:
                            drop = true;
                            break;
                        case MissingValues.FillZero:
                            row[k] = 0;
                            break;
                        case MissingValues.FillPrevious when rows > 0:
                            row[k] = values[(rows - 1) * columns.Count + k];
                            break;
                        case MissingValues.FillPrevious:
                            throw new LstmException($"{path}: line {line}, column {index[k] + 1} '{columns[k]}': {problem}, and no previous row to fill from");
                        default:
                            throw new LstmException($"{path}: line {line}, column {index[k] + 1} '{columns[k]}': {problem}");
                    }
                }

                if (drop)
                    continue;
                values.AddRange(row);
                rows++;
            }

            if (rows == 0)
                throw new LstmException($"{path}: no data rows after the header");
            return new TimeSeries(columns.ToArray(), values.ToArray(), rows);
        }
        catch (CsvHelperException e)
        {
            int line = e.Context?.Parser?.RawRow ?? 0;
            throw new LstmException($"{path}: line {line}: malformed CSV ({e.GetType().Name})", e);
        }
    }
}
