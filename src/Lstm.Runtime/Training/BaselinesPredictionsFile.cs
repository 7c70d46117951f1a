using System.Globalization;
using System.Text;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>
/// Per-window forecasts beside the truth as a CSV (<c>lstm eval --output</c>): one line per window
/// of each evaluated set, in order; written atomically.
/// </summary>
public static class PredictionsFile
{
    /// <summary>
    /// Writes the sets' forecasts to <paramref name="path"/>: a header
    /// <c>set,row[,LABEL],T,T_predicted,...</c> for a CSV's windows (row: the 1-based data row
    /// forecast; LABEL: the file's timestamp column, where it has one), or
    /// <c>set,sample,T,T_predicted,...</c> for other samples; values in original units, written
    /// with round-trip precision.
    /// </summary>
    /// <param name="path">The file (its folder exists).</param>
    /// <param name="sets">The evaluated sets of a value model.</param>
    /// <exception cref="LstmException">The sets hold no forecasts (a class model), or the file cannot be written.</exception>
    public static void Write(string path, IReadOnlyList<EvaluationSet> sets)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0 || sets.Any(s => s.Predictions is null || s.Truth is null))
            throw new LstmException($"--output {path}: writes a forecast's predictions; this model predicts classes");
        var first = sets[0];
        var names = first.Metrics.Columns.Select(c => c.Name).ToArray();
        int o = names.Length;
        var rows = first.Rows;
        string? labelName = sets.All(s => s.Rows?.Labels is not null) ? rows?.LabelName : null;
        var csv = new StringBuilder();
        int h = first.Horizon;
        var header = new List<string> { "set", rows is null ? "sample" : "row" };
        if (h > 1)
            header.Add("step");
        if (labelName is not null)
            header.Add(labelName);
        foreach (string n in names)
        {
            header.Add(n);
            header.Add(n + "_predicted");
        }

        csv.AppendJoin(',', header.Select(Field)).Append('\n');
        foreach (var set in sets)
        {
            int count = set.Truth!.Length / (o * h);
            for (int i = 0; i < count; i++)
            {
                // Window i forecasts step j + 1 at row FirstRow + i − (H − 1 − j): its last step at FirstRow + i.
                for (int j = 0; j < h; j++)
                {
                    int row = set.FirstRow + i - (h - 1 - j);
                    csv.Append(Field(set.Name)).Append(',');
                    csv.Append((set.Rows is null ? i : row + 1).ToString(CultureInfo.InvariantCulture));
                    if (h > 1)
                        csv.Append(',').Append((j + 1).ToString(CultureInfo.InvariantCulture));
                    if (labelName is not null)
                        csv.Append(',').Append(Field(set.Rows!.Labels![row]));
                    for (int k = 0; k < o; k++)
                    {
                        csv.Append(',').Append(set.Truth[(i * h + j) * o + k].ToString("R", CultureInfo.InvariantCulture));
                        csv.Append(',').Append(set.Predictions![(i * h + j) * o + k].ToString("R", CultureInfo.InvariantCulture));
                    }

                    csv.Append('\n');
                }
            }
        }

        AtomicFile.WriteAllText(path, csv.ToString());
    }

    /// <summary>A CSV field, quoted where it holds a comma, a quote or a line break.</summary>
    private static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
