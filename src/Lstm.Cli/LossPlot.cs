using System.Globalization;
using Lstm.Runtime.Persistence;
using ScottPlot;

namespace Lstm.Cli;

/// <summary>A run's <c>loss.png</c>: training and validation loss against the step, log-scale y (ScottPlot, drawn headless).</summary>
internal static class LossPlot
{
    /// <summary>Draws the curves of <paramref name="records"/> into a PNG file (the run writes it atomically).</summary>
    /// <param name="path">The file.</param>
    /// <param name="records">The run's metrics so far.</param>
    /// <param name="title">The plot's title.</param>
    public static void Draw(string path, IReadOnlyList<StepMetrics> records, string title)
    {
        var plot = new Plot();
        AddCurve(plot, records.Where(r => Positive(r.TrainLoss)).Select(r => (r.Step, r.TrainLoss)), "train", Colors.C0, lineWidth: 1, markers: false);
        AddCurve(plot, records.Where(r => r.ValLoss is { } v && Positive(v)).Select(r => (r.Step, r.ValLoss!.Value)), "validation", Colors.C1, lineWidth: 2, markers: true);
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(.15);
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(.05);
        plot.Grid.MinorLineWidth = 1;
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("loss (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 800, 500);
    }

    private static bool Positive(double v) => v > 0 && double.IsFinite(v);

    private static void AddCurve(Plot plot, IEnumerable<(long Step, double Loss)> points, string label, Color color, float lineWidth, bool markers)
    {
        var list = points.ToList();
        if (list.Count == 0)
            return;
        var scatter = plot.Add.Scatter(list.Select(p => (double)p.Step).ToArray(), list.Select(p => Math.Log10(p.Loss)).ToArray(), color);
        scatter.LegendText = label;
        scatter.LineWidth = lineWidth;
        scatter.MarkerSize = markers ? 5 : 0;
    }
}
