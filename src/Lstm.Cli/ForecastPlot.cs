using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;
using ScottPlot;

namespace Lstm.Cli;

/// <summary><c>forecast.png</c>: each target column's recent history, the forecast and (held out) the truth against the row (ScottPlot, drawn headless).</summary>
internal static class ForecastPlot
{
    /// <summary>Draws <paramref name="forecast"/> into a PNG file, atomically.</summary>
    /// <param name="path">The file.</param>
    /// <param name="forecast">The forecast with its history.</param>
    public static void Draw(string path, ForecastResult forecast)
    {
        var plot = new Plot();
        int o = forecast.Targets.Count, h = forecast.Horizon;
        int past = forecast.History.Count / o;
        int last = forecast.Rows - 1;
        for (int c = 0; c < o; c++)
        {
            var color = plot.Add.Palette.GetColor(2 * c);
            var forecastColor = plot.Add.Palette.GetColor(2 * c + 1);
            string name = o == 1 ? "" : forecast.Targets[c] + " ";
            // The forecast and the truth start at the last known row so that the lines join.
            double lastValue = forecast.History[(past - 1) * o + c];
            Add(plot, Enumerable.Range(0, past).Select(i => (double)(last - past + 1 + i)), Enumerable.Range(0, past).Select(i => forecast.History[i * o + c]), name + "history", color, 1, 0, LinePattern.Solid);
            var rows = Enumerable.Range(0, h + 1).Select(k => (double)(last + k)).ToArray();
            if (forecast.Truth is { } truth)
                Add(plot, rows, Enumerable.Range(0, h + 1).Select(k => k == 0 ? lastValue : truth[(k - 1) * o + c]), name + "truth", Colors.Black, 1, 4, LinePattern.Dotted);
            Add(plot, rows, Enumerable.Range(0, h + 1).Select(k => k == 0 ? lastValue : forecast.Values[(k - 1) * o + c]), name + "forecast", forecastColor, 2, 5, LinePattern.Dashed);
        }

        plot.Add.VerticalLine(last, 1, Colors.Black.WithOpacity(.3));
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(.15);
        plot.Title($"{Path.GetFileName(forecast.Csv)}: {h}-step forecast{(forecast.Truth is null ? "" : " against the held-out rows")}");
        plot.XLabel(forecast.Time is { } t ? $"row ({t.Column}: step {t.Step})" : "row");
        plot.YLabel(string.Join(", ", forecast.Targets));
        plot.ShowLegend(Alignment.UpperLeft);
        AtomicFile.Write(path, file => plot.SavePng(file, 900, 500));
    }

    private static void Add(Plot plot, IEnumerable<double> xs, IEnumerable<double> ys, string label, Color color, float width, float marker, LinePattern pattern)
    {
        var s = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), color);
        s.LegendText = label;
        s.LineWidth = width;
        s.MarkerSize = marker;
        s.LinePattern = pattern;
    }
}
