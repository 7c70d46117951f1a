using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm predict</c>: the options as <see cref="ForecastSettings"/>, the <see cref="Forecast"/> printed (and plotted).</summary>
internal static class PredictCommand
{
    public static int Execute(PredictOptions o, TextWriter stdout)
    {
        if (ClassificationRun.IsClassificationRun(o.Run))
            return ClassifyCommand.Predict(o, stdout);
        if (Seq2SeqRun.IsSeq2SeqRun(o.Run))
            throw new LstmException($"--run {o.Run}: an encoder-decoder run is used by lstm translate --run {o.Run} --input TEXT (or --file FILE), and scored by lstm eval");
        if (o.Plot is { } plot && Path.GetDirectoryName(Path.GetFullPath(plot)) is { } dir && !Directory.Exists(dir))
            throw new LstmException($"--plot {plot}: the folder {dir} does not exist");
        var r = Forecast.Run(new ForecastSettings { Run = o.Run, Csv = o.Csv, Output = o.Output, TimeColumn = o.TimeColumn, Holdout = o.Holdout, Device = o.Device });
        string rows = r.Horizon == 1 ? "the row" : $"the {r.Horizon} rows";
        string after = r.Truth is null ? $"the last of {r.Rows} rows" : $"row {r.Rows} (the last {r.Horizon} held out)";
        stdout.WriteLine($"forecast of {rows} after {after} of {r.Csv} (window of {r.Window} rows, {r.ModelDirectory}):");
        static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        int n = r.Targets.Count;
        for (int k = 1; k <= r.Horizon; k++)
        {
            var cells = Enumerable.Range(0, n).Select(c =>
                $"{r.Targets[c]} = {F(r.Values[(k - 1) * n + c])}{(r.Truth is { } t ? $" (truth {F(t[(k - 1) * n + c])})" : "")}");
            stdout.WriteLine($"  {(r.Time is null ? "+" + k.ToString(CultureInfo.InvariantCulture) : r.TimeOf(k))}  {string.Join("  ", cells)}");
        }

        if (r.Truth is { } truth)
        {
            double mae = r.Values.Zip(truth).Average(p => Math.Abs(p.First - p.Second));
            stdout.WriteLine($"mean absolute error over the held-out rows: {F(mae)}");
        }

        if (r.WriteOutput() is { } path)
            stdout.WriteLine($"wrote {path}");
        if (o.Plot is { } png)
        {
            ForecastPlot.Draw(png, r);
            stdout.WriteLine($"wrote {png}");
        }

        return Program.Ok;
    }
}
