using System.Globalization;
using System.Text;
using Lstm.Runtime;
using Lstm.Runtime.Persistence;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm predict</c>: the forecast of a run trained on a CSV for the rows after a file's last
/// window: its last W rows of the feature columns, normalized with the run's statistics, give the
/// target columns h rows after the file's last row, in original units.
/// </summary>
internal static class PredictCommand
{
    public static int Execute(PredictOptions o, TextWriter stdout)
    {
        if (o.Output is { } output)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null && !Directory.Exists(dir))
                throw new LstmException($"--output {output}: the folder {dir} does not exist");
        }

        using var run = TrainedRun.Open(o.Run, o.Device, config =>
        {
            if (config.Data.Source != "csv")
                throw new LstmException($"--run {o.Run}: predict forecasts CSV columns, but the run was trained on {(config.Data.Source == "task" ? $"the {config.Data.Task} task" : $"the text {config.Data.Path}")}");
        });
        var spec = run.Config.Data with { Path = o.Csv };
        var (features, _) = spec.ReadColumns();
        int w = spec.Window, f = features.Columns.Count;
        if (features.Rows < w)
            throw new LstmException($"{o.Csv}: {features.Rows} data rows are fewer than the run's window of {w}");
        var x = features.Values.AsSpan((features.Rows - w) * f, w * f).ToArray();
        run.Data.FeatureStats?.Normalize(x);
        var y = run.Model.Predict(Array.ConvertAll(x, v => (float)v), 1, w)[0];
        var values = new double[y.Length];
        for (int k = 0; k < y.Length; k++)
            values[k] = run.Data.TargetStats is { } ts ? ts.Denormalize(k, y[k]) : y[k];

        string rows = spec.Horizon == 1 ? "the row" : $"{spec.Horizon} rows";
        stdout.WriteLine($"forecast of {rows} after the last of {features.Rows} rows of {o.Csv} (window of {w} rows, {run.ModelDirectory}):");
        for (int k = 0; k < values.Length; k++)
            stdout.WriteLine($"  {spec.Targets[k]} = {values[k].ToString("G6", CultureInfo.InvariantCulture)}");
        if (o.Output is { } path)
        {
            var csv = new StringBuilder();
            csv.Append("horizon,").AppendJoin(',', spec.Targets.Select(Field)).Append('\n');
            csv.Append(spec.Horizon.ToString(CultureInfo.InvariantCulture)).Append(',')
                .AppendJoin(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
            AtomicFile.WriteAllText(path, csv.ToString());
            stdout.WriteLine($"wrote {path}");
        }

        return Program.Ok;
    }

    private static string Field(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : name;
}
