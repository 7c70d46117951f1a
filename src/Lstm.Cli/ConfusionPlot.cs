using Lstm.Runtime.Training;
using ScottPlot;

namespace Lstm.Cli;

/// <summary>A classifier's <c>confusion.png</c>: the confusion matrix as a heat map of row-normalized counts, each cell labelled with its count.</summary>
internal static class ConfusionPlot
{
    /// <summary>Draws the matrix into a PNG file (the caller writes it atomically).</summary>
    /// <param name="path">The file.</param>
    /// <param name="m">The metrics.</param>
    /// <param name="title">The plot's title.</param>
    public static void Draw(string path, ClassificationMetrics m, string title)
    {
        int k = m.Classes.Count;
        var share = new double[k, k];
        for (int a = 0; a < k; a++)
        {
            long total = 0;
            for (int p = 0; p < k; p++)
                total += m.Confusion[a, p];
            for (int p = 0; p < k; p++)
                share[a, p] = total == 0 ? 0 : (double)m.Confusion[a, p] / total;
        }

        var plot = new Plot();
        var heat = plot.Add.Heatmap(share);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        // The heat map draws row 0 at the top: true class a sits at y = k − 1 − a.
        heat.Extent = new CoordinateRect(-0.5, k - 0.5, -0.5, k - 0.5);
        for (int a = 0; a < k; a++)
        {
            for (int p = 0; p < k; p++)
            {
                var text = plot.Add.Text(m.Confusion[a, p].ToString(System.Globalization.CultureInfo.InvariantCulture), p, k - 1 - a);
                text.LabelFontColor = share[a, p] > 0.5 ? Colors.Black : Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
            }
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, k).Select(i => new Tick(i, m.Classes[i])).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, k).Select(i => new Tick(k - 1 - i, m.Classes[i])).ToArray());
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.Title(title);
        plot.XLabel("predicted");
        plot.YLabel("true class");
        plot.SavePng(path, 200 + 60 * k, 160 + 60 * k);
    }
}
