using System.Globalization;
using System.Text;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>The settings of a forecast (<c>lstm predict</c>).</summary>
public sealed record ForecastSettings
{
    /// <summary>The run folder; the run must be trained on a CSV.</summary>
    public string Run { get; init; } = "";

    /// <summary>A CSV with the run's columns; its last W rows are the input.</summary>
    public string Csv { get; init; } = "";

    /// <summary>A CSV file to write the forecast to (atomically), or null.</summary>
    public string? Output { get; init; }

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;
}

/// <summary>A forecast: the target columns h rows after a file's last row, in original units.</summary>
/// <param name="Rows">The file's data rows.</param>
/// <param name="Window">W, the rows read.</param>
/// <param name="Horizon">h.</param>
/// <param name="Targets">The target columns' names.</param>
/// <param name="Values">One value per target column.</param>
/// <param name="ModelDirectory">Where the weights came from.</param>
/// <param name="Output">The CSV file to write it to (<see cref="WriteOutput"/>), or null.</param>
public sealed record ForecastResult(int Rows, int Window, int Horizon, IReadOnlyList<string> Targets, IReadOnlyList<double> Values, string ModelDirectory, string? Output)
{
    /// <summary>Writes the forecast to <see cref="Output"/> (atomically), if given: a header row <c>horizon,TARGET...</c> and one row of values.</summary>
    /// <returns>The file written, or null.</returns>
    public string? WriteOutput()
    {
        if (Output is not { } path)
            return null;
        var csv = new StringBuilder();
        csv.Append("horizon,").AppendJoin(',', Targets.Select(Field)).Append('\n');
        csv.Append(Horizon.ToString(CultureInfo.InvariantCulture)).Append(',')
            .AppendJoin(',', Values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
        AtomicFile.WriteAllText(path, csv.ToString());
        return path;
    }

    private static string Field(string name) =>
        name.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : name;
}

/// <summary>
/// The forecast of a run trained on a CSV for the rows after a file's last window: its last W
/// rows of the feature columns, normalized with the run's statistics, give the target columns h
/// rows after the file's last row, in original units.
/// </summary>
public static class Forecast
{
    /// <summary>Checks the settings (the output's folder must exist), opens the run and forecasts; <see cref="ForecastResult.WriteOutput"/> writes the file.</summary>
    /// <param name="settings">The settings.</param>
    /// <exception cref="LstmException">A missing output folder, a run not trained on a CSV, too few rows, a bad file.</exception>
    public static ForecastResult Run(ForecastSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Output is { } output)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null && !Directory.Exists(dir))
                throw new LstmException($"--output {output}: the folder {dir} does not exist");
        }

        using var run = TrainedRun.Open(settings.Run, settings.Device, config =>
        {
            if (config.Data.Source != "csv")
                throw new LstmException($"--run {settings.Run}: predict forecasts CSV columns, but the run was trained on {(config.Data.Source == "task" ? $"the {config.Data.Task} task" : $"the text {config.Data.Path}")}");
        });
        var spec = run.Config.Data with { Path = settings.Csv };
        var (features, _) = spec.ReadColumns();
        int w = spec.Window, f = features.Columns.Count;
        if (features.Rows < w)
            throw new LstmException($"{settings.Csv}: {features.Rows} data rows are fewer than the run's window of {w}");
        var x = features.Values.AsSpan((features.Rows - w) * f, w * f).ToArray();
        run.Data.FeatureStats?.Normalize(x);
        var y = run.Model.Predict(Array.ConvertAll(x, v => (float)v), 1, w)[0];
        var values = new double[y.Length];
        for (int k = 0; k < y.Length; k++)
            values[k] = run.Data.TargetStats is { } ts ? ts.Denormalize(k, y[k]) : y[k];

        return new ForecastResult(features.Rows, w, spec.Horizon, spec.Targets, values, run.ModelDirectory, settings.Output);
    }

}
