using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm predict</c>: the options as <see cref="ForecastSettings"/>, the <see cref="Forecast"/> printed.</summary>
internal static class PredictCommand
{
    public static int Execute(PredictOptions o, TextWriter stdout)
    {
        if (ClassificationRun.IsClassificationRun(o.Run))
            return ClassifyCommand.Predict(o, stdout);
        var r = Forecast.Run(new ForecastSettings { Run = o.Run, Csv = o.Csv, Output = o.Output, Device = o.Device });
        string rows = r.Horizon == 1 ? "the row" : $"{r.Horizon} rows";
        stdout.WriteLine($"forecast of {rows} after the last of {r.Rows} rows of {o.Csv} (window of {r.Window} rows, {r.ModelDirectory}):");
        for (int k = 0; k < r.Values.Count; k++)
            stdout.WriteLine($"  {r.Targets[k]} = {r.Values[k].ToString("G6", CultureInfo.InvariantCulture)}");
        if (r.WriteOutput() is { } path)
            stdout.WriteLine($"wrote {path}");
        return Program.Ok;
    }
}
