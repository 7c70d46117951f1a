using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>The forecast transforms (differencing, target modes, scalings), H-step targets and their inverse, the time axis and the data paths of a run folder.</summary>
public sealed class ForecastTransformTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-forecast-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two target columns with a trend, a season and noise; a third feature column.</summary>
    private static (TimeSeries Features, TimeSeries Targets) Series(int rows, int seed)
    {
        var rng = new Random(seed);
        var f = new double[rows * 3];
        var t = new double[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            double a = 5 + 0.3 * r + 2 * Math.Sin(r * 0.9) + rng.NextDouble();
            double b = -1 - 0.01 * r * r + rng.NextDouble();
            double c = rng.NextDouble() * 10;
            (f[r * 3], f[r * 3 + 1], f[r * 3 + 2]) = (a, c, b);
            (t[r * 2], t[r * 2 + 1]) = (a, b);
        }

        return (new TimeSeries(["a", "c", "b"], f, rows), new TimeSeries(["a", "b"], t, rows));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Differenced_ThenIntegrated_GivesTheValuesBack(int d)
    {
        var (_, targets) = Series(30, 3);
        var u = ForecastTransform.Differenced(targets, d);
        Assert.Equal(30 - d, u.Rows);
        // The differences after row 20 integrated from rows up to 20 give rows 21..25 exactly.
        const int last = 20, h = 5;
        var steps = u.Values.AsSpan((last - d + 1) * 2, h * 2).ToArray();
        new ForecastTransform(d, false, ForecastScaling.None).Integrate(targets, last, steps);
        for (int j = 0; j < h * 2; j++)
            Assert.Equal(targets.Values[(last + 1) * 2 + j], steps[j], 9);
    }

    public static TheoryData<int, string, string> Transforms()
    {
        var data = new TheoryData<int, string, string>();
        foreach (int d in new[] { 0, 1, 2 })
        {
            foreach (string mode in new[] { "level", "change" })
            {
                foreach (string scaling in new[] { "global", "window", "none" })
                    data.Add(d, mode, scaling);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Transforms))]
    public void Targets_InvertToTheTruth_AndTheLatestWindowIsTheLastSample(int d, string mode, string scaling)
    {
        var (features, targets) = Series(61, 5 + d);
        var transform = new ForecastTransform(d, ForecastTransform.ChangeOf(mode), ForecastTransform.ScalingOf(scaling));
        const int w = 6, h = 4;
        ForecastDataset train, valid;
        if (transform.UsesStatistics)
        {
            (train, valid, _, _) = ForecastDataset.Split(features, targets, w, h, 0.7, transform);
        }
        else
        {
            var all = ForecastDataset.Windows(features, targets, w, h, transform, null, null);
            (train, valid) = (all.Slice(0, 20), all.Slice(20, all.Count - 20));
        }

        Assert.Equal(61 - (w + h + d) + 1, train.Count + valid.Count);
        Assert.Equal(8, train.TargetLength);
        var x = new double[w * 3];
        var y = new double[h * 2];
        var values = new double[h * 2];
        var truth = new double[h * 2];
        foreach (var set in new[] { train, valid })
        {
            for (int i = 0; i < set.Count; i++)
            {
                set.Fill(i, x, y);
                set.ToValues(i, y, values);
                set.Truth(i, truth);
                for (int j = 0; j < values.Length; j++)
                    Assert.Equal(truth[j], values[j], 9);
                // Truth is the rows after the window's last (the window ends at FirstRow + i + D + W − 1).
                int lastRow = set.FirstRow + i + d + w - 1;
                Assert.Equal(targets.Values[(lastRow + 1) * 2 + 1], truth[1]);
                Assert.Equal(targets.Values[lastRow * 2], set.LastValue(i, 0));
                if (transform.Scaling == ForecastScaling.Window)
                {
                    for (int c = 0; c < 3; c++)
                        Assert.Equal(0, x[(w - 1) * 3 + c]);
                }
            }
        }

        // The window that ends at the series' last row: a series cut H rows short forecasts what the last sample targets.
        var fs = transform.UsesStatistics ? ZScoreStatistics.Fit(["a", "c", "b"], ForecastTransform.Differenced(features, d).Values, 30) : null;
        var ts = transform.UsesStatistics ? ZScoreStatistics.Fit(["a", "b"], ForecastTransform.Differenced(targets, d).Values, 30) : null;
        var every = ForecastDataset.Windows(features, targets, w, h, transform, fs, ts);
        var cut = ForecastDataset.Latest(Head(features, 61 - h), Head(targets, 61 - h), w, h, transform, fs, ts);
        var latestX = new double[w * 3];
        cut.FillLatest(latestX);
        every.Fill(every.Count - 1, x, y);
        Assert.Equal(x, latestX);
        cut.LatestValues(y, values);
        every.Truth(every.Count - 1, truth);
        for (int j = 0; j < values.Length; j++)
            Assert.Equal(truth[j], values[j], 9);
    }

    private static TimeSeries Head(TimeSeries s, int rows) => new(s.Columns, s.Values[..(rows * s.Columns.Count)], rows);

    [Fact]
    public void ChangeTargets_AreTheStepsFromTheWindowsLastValue()
    {
        var series = new TimeSeries(["x"], [1, 4, 9, 16, 25, 36, 49], 7);
        var data = ForecastDataset.Windows(series, series, 3, 2, new ForecastTransform(0, true, ForecastScaling.None), null, null);
        var (x, y) = (new double[3], new double[2]);
        data.Fill(0, x, y);
        Assert.Equal([1, 4, 9], x);
        Assert.Equal([16 - 9, 25 - 9], y);
        var first = ForecastDataset.Windows(series, series, 3, 2, new ForecastTransform(1, false, ForecastScaling.None), null, null);
        first.Fill(0, x, y);
        Assert.Equal([3, 5, 7], x);
        Assert.Equal([9, 11], y);
        var second = ForecastDataset.Windows(series, series, 3, 2, new ForecastTransform(2, false, ForecastScaling.None), null, null);
        Assert.Equal(1, second.Count);
        second.Fill(0, x, y);
        Assert.Equal([2, 2, 2], x);
        Assert.Equal([2, 2], y);
    }

    [Theory]
    [InlineData("day", new[] { "0", "1", "2", "3" }, "4", "6")]
    [InlineData("t", new[] { "0.5", "0.75", "1.00", "1.25" }, "1.50", "2.00")]
    [InlineData("date", new[] { "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01" }, "2024-03-02", "2024-03-04")]
    [InlineData("date", new[] { "2023-11-15", "2023-12-15", "2024-01-15" }, "2024-02-15", "2024-04-15")]
    [InlineData("ts", new[] { "2024-01-01 23:00", "2024-01-02 00:00", "2024-01-02 01:00" }, "2024-01-02 02:00", "2024-01-02 04:00")]
    public void TimeAxis_ContinuesEvenlySpacedColumns(string column, string[] values, string first, string third)
    {
        var axis = TimeAxis.Detect(column, values);
        Assert.NotNull(axis);
        Assert.Equal(first, axis.After(1));
        Assert.Equal(third, axis.After(3));
        Assert.Equal(values[^1], axis.After(0));
    }

    [Fact]
    public void TimeAxis_NamesItsStep()
    {
        Assert.Equal("1 day", TimeAxis.Detect("d", ["2024-01-01", "2024-01-02"])!.Step);
        Assert.Equal("7 days", TimeAxis.Detect("d", ["2024-01-01", "2024-01-08"])!.Step);
        Assert.Equal("01:00:00", TimeAxis.Detect("d", ["2024-01-01 00:00", "2024-01-01 01:00"])!.Step);
        Assert.Equal("2 months", TimeAxis.Detect("d", ["2024-01-15", "2024-03-15", "2024-05-15"])!.Step);
        Assert.Equal("0.5", TimeAxis.Detect("t", ["1.0", "1.5", "2.0"])!.Step);
    }

    [Theory]
    [InlineData("0|1|3")]
    [InlineData("2024-01-01|2024-01-02|2024-01-04")]
    [InlineData("a|b|c")]
    [InlineData("5")]
    public void TimeAxis_IsNoneForUnevenOrUnreadableColumns(string values) => Assert.Null(TimeAxis.Detect("t", values.Split('|')));

    private string Csv(int rows)
    {
        string path = Path.Combine(_dir, "series.csv");
        File.WriteAllText(path, new TrendSeason().Csv(rows, 1));
        return path;
    }

    [Fact]
    public void DataSpec_RefusesBadTransformsAndDataTooShortForThem()
    {
        var spec = new DataSpec { Source = "csv", Path = Csv(40), Targets = ["value"], Window = 10, Horizon = 5 };
        Assert.Equal("--difference 3: must be 0, 1 or 2", Assert.Throws<LstmException>(() => (spec with { Difference = 3 }).Validate()).Message);
        Assert.Equal("--difference -1: must be 0, 1 or 2", Assert.Throws<LstmException>(() => (spec with { Difference = -1 }).Validate()).Message);
        Assert.Equal("--target-mode delta: expected level, change", Assert.Throws<LstmException>(() => (spec with { TargetMode = "delta" }).Validate()).Message);
        Assert.Contains("--normalize robust: expected global, window", Assert.Throws<LstmException>(() => (spec with { Normalize = "robust" }).Validate()).Message, StringComparison.Ordinal);
        // 40 rows, 20 % validation: samples of W + H = 15 rows start at rows 0..17 of the 32 training rows.
        Assert.Equal(18, spec.Prepare().Train.Count);
        Assert.Equal(16, (spec with { Difference = 2 }).Prepare().Train.Count);
        var e = Assert.Throws<LstmException>(() => (spec with { Horizon = 25, Difference = 2 }).Prepare());
        Assert.Contains("40 data rows are too few for a window of 10 and a horizon of 25 differenced 2 times", e.Message, StringComparison.Ordinal);
        Assert.Contains("rows are needed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataSpec_TransformsTrainAndEvaluationAlike()
    {
        var spec = new DataSpec { Source = "csv", Path = Csv(120), Targets = ["value"], Window = 8, Horizon = 3, Difference = 1, TargetMode = "change", Normalize = "window" };
        var data = spec.Prepare();
        Assert.Equal(3, data.Train.TargetLength);
        Assert.Contains("each window less its last value, scaled, differenced 1×, change targets", data.Summary, StringComparison.Ordinal);
        var evaluation = spec.PrepareEvaluation(data);
        var (x1, y1, x2, y2) = (new double[8], new double[3], new double[8], new double[3]);
        int i = data.Train.Count - 1;
        data.Train.Fill(i, x1, y1);
        evaluation.Fill(i, x2, y2);
        Assert.Equal(x1, x2);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void DataPaths_RecordedAbsoluteAndFromTheRunFolder_FoundWhereTheyAre()
    {
        string csv = Csv(50);
        string run = Path.Combine(_dir, "runs", "a");
        var spec = new DataSpec { Source = "csv", Path = csv, Targets = ["value"] }.ForRunFolder(run);
        Assert.Equal(csv, spec.Path);
        Assert.Equal(Path.Combine("..", "..", "series.csv"), spec.PathFromRun);
        Assert.Same(spec, spec.LocatedFrom(run));
        // The folder moved with its data: the absolute path is gone, the relative one holds.
        string moved = Path.Combine(_dir, "moved");
        Directory.CreateDirectory(Path.Combine(moved, "runs", "a"));
        File.Move(csv, Path.Combine(moved, "series.csv"));
        Assert.Equal(Path.Combine(moved, "series.csv"), spec.LocatedFrom(Path.Combine(moved, "runs", "a")).Path);
        Assert.Equal(csv, spec.LocatedFrom(run).Path); // Neither exists: reading names the recorded path.
        var task = new DataSpec();
        Assert.Same(task, task.ForRunFolder(run));
    }

    [Fact]
    public void TransformOptions_ApplyToCsvOnly_AndEvalKeepsTheRunsOwn()
    {
        var spec = new DataSelection { Csv = "s.csv", Target = "value", Difference = 2, TargetMode = " Change ", Normalize = "Window" }.ToSpec();
        Assert.Equal((2, "change", "window"), (spec.Difference, spec.TargetMode, spec.Normalize));
        Assert.Equal(new ForecastTransform(2, true, ForecastScaling.Window), spec.Transform);
        Assert.Equal("--difference 1: does not apply to --text", Assert.Throws<LstmException>(() => new DataSelection { Text = "t.txt", Difference = 1 }.ToSpec()).Message);
        Assert.Equal("--target-mode change: does not apply to a synthetic task", Assert.Throws<LstmException>(() => new DataSelection { Task = "sine", TargetMode = "change" }.ToSpec()).Message);
        foreach (var (selection, message) in new[]
        {
            (new DataSelection { Difference = 1 }, "--difference 1: eval reads the columns the run was trained on, as it normalized them"),
            (new DataSelection { TargetMode = "change" }, "--target-mode change: eval reads the columns the run was trained on, as it normalized them"),
        })
        {
            Assert.Equal(message, Assert.Throws<LstmException>(new EvaluationSettings { Data = selection }.Validate).Message);
        }

        Assert.Equal("--season 1: must be ≥ 2 (rows per season)", Assert.Throws<LstmException>(new EvaluationSettings { Data = new DataSelection { Season = 1 } }.Validate).Message);
    }

    [Fact]
    public void RunConfig_KeepsTheTransformAndPaths_ForCsvOnly()
    {
        string path = Path.Combine(_dir, "config.json");
        var csv = new DataSpec { Source = "csv", Path = Csv(30), Targets = ["value"], Difference = 1, TargetMode = "change", Normalize = "window" }.ForRunFolder(_dir);
        File.WriteAllText(path, new RunConfig([], csv, new JsonObject { ["steps"] = 5 }).ToJson());
        var json = File.ReadAllText(path);
        Assert.Contains("\"difference\": 1", json, StringComparison.Ordinal);
        Assert.Contains("\"target_mode\": \"change\"", json, StringComparison.Ordinal);
        Assert.Contains("\"path_from_run\": \"series.csv\"", json, StringComparison.Ordinal);
        var loaded = RunConfig.Load(path).Data;
        Assert.Equal(csv.Transform, loaded.Transform);
        Assert.Equal((csv.Path, csv.PathFromRun), (loaded.Path, loaded.PathFromRun));
        File.WriteAllText(path, new RunConfig([], new DataSpec(), new JsonObject { ["steps"] = 5 }).ToJson());
        json = File.ReadAllText(path);
        Assert.DoesNotContain("difference", json, StringComparison.Ordinal);
        Assert.DoesNotContain("path_from_run", json, StringComparison.Ordinal);
        Assert.Equal(ForecastTransform.Default, RunConfig.Load(path).Data.Transform);
    }

    [Fact]
    public void Resume_TakesSteps_ButNoOtherTrainingLength()
    {
        new TrainingRunSettings { Resume = "run", Steps = 8 }.Validate();
        Assert.Equal("--steps 0: must be ≥ 1", Assert.Throws<LstmException>(new TrainingRunSettings { Resume = "run", Steps = 0 }.Validate).Message);
        Assert.Contains("--epochs cannot be changed", Assert.Throws<LstmException>(new TrainingRunSettings { Resume = "run", Epochs = 2 }.Validate).Message, StringComparison.Ordinal);
    }
}
