using System.Globalization;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>The forecast baselines against hand-computed values, the linear AR's least squares, season detection, and the chronological train / validation / test split.</summary>
public sealed class ForecastBaselinesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-baselines-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ForecastRows Rows(double[] y, int window, int horizon, int trainRows, int testStart) =>
        new(new TimeSeries(["y"], y, y.Length), window, horizon, trainRows, testStart);

    [Fact]
    public void Baselines_MatchHandComputedForecastsAndErrors()
    {
        // Rows 0..9; window 2, horizon 1: training targets rows 2..5, validation rows 6..7, test rows 8..9.
        double[] y = [1, 2, 4, 3, 5, 7, 6, 8, 10, 9];
        var rows = Rows(y, window: 2, horizon: 1, trainRows: 6, testStart: 8);
        var baselines = ForecastBaselines.Fit(rows, season: 3);
        var notes = new List<string>();
        var validation = baselines.Predict(rows, 0, first: 6, count: 2, notes).ToDictionary(b => b.Name.Split(" (")[0], b => b.Predictions);
        Assert.Equal([7, 6], validation["persistence"]);               // y[5], y[6]
        Assert.Equal([3, 5], validation["seasonal naive"]);            // y[3], y[4]: one season of 3 back
        Assert.Equal([22 / 6.0, 22 / 6.0], validation["training mean"]); // (1 + 2 + 4 + 3 + 5 + 7) / 6
        Assert.Empty(notes);

        // Persistence against the truth 6, 8: errors 1 and −2 → RMSE √2.5, MAE 1.5.
        var (mse, mae) = ForecastScoring.Errors(validation["persistence"], [6, 8], 1, 0);
        Assert.Equal(2.5, mse, 12);
        Assert.Equal(1.5, mae, 12);

        // Test rows 8, 9 with horizon 1: persistence y[7], y[8]; seasonal y[5], y[6].
        var test = baselines.Predict(rows, 0, first: 8, count: 2, notes).ToDictionary(b => b.Name.Split(" (")[0], b => b.Predictions);
        Assert.Equal([8, 10], test["persistence"]);
        Assert.Equal([7, 6], test["seasonal naive"]);
    }

    [Fact]
    public void SeasonalNaive_LooksBackWholeSeasonsPastTheHorizon()
    {
        Assert.Equal(3, ForecastBaselines.SeasonalLookback(3, 1));
        Assert.Equal(3, ForecastBaselines.SeasonalLookback(3, 3));
        Assert.Equal(6, ForecastBaselines.SeasonalLookback(3, 4));
        Assert.Equal(12, ForecastBaselines.SeasonalLookback(12, 5));
        Assert.Equal(4, ForecastBaselines.SeasonalLookback(2, 3));

        // Horizon 4, season 3: row r is forecast by y[r − 6]; persistence by y[r − 4].
        double[] y = Enumerable.Range(0, 30).Select(t => (double)(t * t % 17)).ToArray();
        var rows = Rows(y, window: 5, horizon: 4, trainRows: 20, testStart: 30);
        var notes = new List<string>();
        var forecasts = ForecastBaselines.Fit(rows, season: 3).Predict(rows, 0, first: 20, count: 10, notes);
        var seasonal = forecasts.Single(f => f.Name.StartsWith("seasonal naive (season 3)", StringComparison.Ordinal)).Predictions;
        var persistence = forecasts.Single(f => f.Name == "persistence").Predictions;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(y[20 + i - 6], seasonal[i]);
            Assert.Equal(y[20 + i - 4], persistence[i]);
        }
    }

    [Fact]
    public void SeasonalNaive_LookingBeforeTheFirstRow_IsLeftOutWithANote()
    {
        double[] y = Enumerable.Range(0, 40).Select(t => Math.Sin(t)).ToArray();
        var own = Rows(y, window: 2, horizon: 1, trainRows: 30, testStart: 40);
        var baselines = ForecastBaselines.Fit(own, season: 10);
        var other = Rows(y[..15], window: 2, horizon: 1, trainRows: 2, testStart: 15);
        var notes = new List<string>();
        var forecasts = baselines.Predict(other, 0, first: 2, count: 13, notes);
        Assert.DoesNotContain(forecasts, f => f.Name.StartsWith("seasonal", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("seasonal naive (season 10) left out", StringComparison.Ordinal));
    }

    [Fact]
    public void LinearAutoregression_RecoversAnAr2ProcessCoefficients()
    {
        // y_t = 0.5 + 0.6·y_{t−1} − 0.3·y_{t−2} + ε, ε ~ N(0, 1).
        var random = new Random(7);
        int n = 20000;
        var y = new double[n];
        for (int t = 2; t < n; t++)
        {
            double e = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            y[t] = 0.5 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + e;
        }

        var coefficients = ForecastBaselines.FitAutoregression(y, first: 102, end: n, horizon: 1, order: 2)!;
        Assert.Equal(3, coefficients.Length);
        Assert.Equal(0.5, coefficients[0], 0.05);
        Assert.Equal(0.6, coefficients[1], 0.02);
        Assert.Equal(-0.3, coefficients[2], 0.02);

        // Order chosen on validation: at least 2 (order 1 misses the second lag), and its validation error near the noise's.
        var rows = Rows(y, window: 8, horizon: 1, trainRows: 16000, testStart: 18000);
        var fitted = ForecastBaselines.Fit(rows, season: 0).Columns[0];
        Assert.InRange(fitted.Order, 2, 8);
        Assert.Equal(0.6, fitted.Autoregression![1], 0.03);
        Assert.Equal(-0.3, fitted.Autoregression[2], 0.03);
        var notes = new List<string>();
        var ar = ForecastBaselines.Fit(rows, season: 0).Predict(rows, 0, first: 16000, count: 2000, notes).Single(f => f.Name.StartsWith("linear AR", StringComparison.Ordinal));
        var (mse, _) = ForecastScoring.Errors(ar.Predictions, y.AsSpan(16000, 2000), 1, 0);
        Assert.InRange(mse, 0.9, 1.1);
    }

    [Fact]
    public void LinearAutoregression_ExactOnANoiselessRecurrence_AndAtTheLevelOfTheSeries()
    {
        // y_t = 1000 + 1.2·(y_{t−1} − 1000) − 0.5·(y_{t−2} − 1000): a damped oscillation about 1000; horizon 1 is exact.
        var y = new double[60];
        y[0] = 1003;
        y[1] = 998;
        for (int t = 2; t < y.Length; t++)
            y[t] = 1000 + 1.2 * (y[t - 1] - 1000) - 0.5 * (y[t - 2] - 1000);
        var c = ForecastBaselines.FitAutoregression(y, first: 2, end: 40, horizon: 1, order: 2)!;
        Assert.Equal(1.2, c[1], 1e-6);
        Assert.Equal(-0.5, c[2], 1e-6);
        Assert.Equal(1000 * (1 - 1.2 + 0.5), c[0], 1e-3);
        Assert.Equal(y[45], ForecastBaselines.PredictAutoregression(c, y, 45, 1), 1e-6);
        Assert.Null(ForecastBaselines.FitAutoregression(y, first: 2, end: 4, horizon: 1, order: 2)); // 2 equations for 3 unknowns.
    }

    [Fact]
    public void DetectSeason_FindsThePeriod_AndNoneInATrendOrNoise()
    {
        var random = new Random(3);
        var seasonal = Enumerable.Range(0, 240).Select(t => 10 * Math.Sin(2 * Math.PI * t / 12) + random.NextDouble()).ToArray();
        Assert.Equal(12, ForecastBaselines.DetectSeason(seasonal));
        var weekly = Enumerable.Range(0, 300).Select(t => (t % 7 is 5 or 6 ? 20.0 : 5.0) + random.NextDouble()).ToArray();
        Assert.Equal(7, ForecastBaselines.DetectSeason(weekly));
        Assert.Null(ForecastBaselines.DetectSeason(Enumerable.Range(0, 200).Select(t => 0.5 * t).ToArray()));
        Assert.Null(ForecastBaselines.DetectSeason(Enumerable.Repeat(4.0, 100).ToArray()));
    }

    [Fact]
    public void Comparison_SkillAgainstTheBestBaseline_AndWhichBaselinesWin()
    {
        var model = new ColumnError("y", 4, 2, 1.5, true);
        var comparison = new BaselineComparison(model, [new BaselineError("persistence", 2.5, 2), new BaselineError("linear AR(2)", 1.6, 1.2), new BaselineError("training mean", 8, 7)]);
        Assert.Equal("linear AR(2)", comparison.Best!.Name);
        Assert.Equal(1 - 2 / 1.6, comparison.Skill!.Value, 12);
        Assert.Equal(["linear AR(2)"], comparison.Beating.Select(b => b.Name));
    }

    private string Csv(int rows)
    {
        string path = Path.Combine(_dir, $"series{rows}.csv");
        File.WriteAllText(path, "date,y\n" + string.Concat(Enumerable.Range(0, rows).Select(r => $"2024-01-{r + 1:D3},{(r * 7 % 11).ToString(CultureInfo.InvariantCulture)}\n")));
        return path;
    }

    [Fact]
    public void CsvSplit_TestRowsLast_ValidationBefore_StatisticsOfTheTrainingRows()
    {
        string path = Csv(100);
        var spec = new DataSpec { Source = "csv", Path = path, Targets = ["y"], Window = 4, Horizon = 1, ValFraction = 0.2, TestFraction = 0.1 };
        var data = spec.Prepare();
        // Test: the last ⌊100·0.1⌋ = 10 rows; validation the 20 before; training rows 0..69, windows of 4 → targets rows 4..69.
        Assert.Equal((66, 20, 10), (data.Train.Count, data.Validation.Count, data.Test.Count));
        Assert.Equal((70, 90), (data.Forecast!.TrainRows, data.Forecast.TestStart));
        Assert.Equal("date", data.Forecast.LabelName);
        Assert.Equal("2024-01-091", data.Forecast.Labels![90]);
        Assert.Contains("66 training, 20 validation and 10 test windows", data.Summary, StringComparison.Ordinal);
        var values = Enumerable.Range(0, 100).Select(r => (double)(r * 7 % 11)).ToArray();
        Assert.Equal(values.Take(70).Average(), data.TargetStats!.Mean[0], 12);
        var x = new double[4];
        var yv = new double[1];
        data.Test.Fill(0, x, yv);
        Assert.Equal(values[90], data.TargetStats.Denormalize(0, yv[0]), 9);
        Assert.Equal(values[86..90], x.Select(v => Math.Round(data.FeatureStats!.Denormalize(0, v), 9)));
        data.Validation.Fill(0, x, yv);
        Assert.Equal(values[70], data.TargetStats.Denormalize(0, yv[0]), 9);
        data.Test.Fill(9, x, yv);
        Assert.Equal(values[99], data.TargetStats.Denormalize(0, yv[0]), 9);

        // Without normalization the same windows.
        var raw = (spec with { Normalize = "none" }).Prepare();
        Assert.Equal((66, 20, 10), (raw.Train.Count, raw.Validation.Count, raw.Test.Count));
        raw.Test.Fill(0, x, yv);
        Assert.Equal(values[90], yv[0]);
        raw.Validation.Fill(19, x, yv);
        Assert.Equal(values[89], yv[0]);

        // A test fraction of 0 is the split of a run without one, row for row.
        var none = (spec with { TestFraction = 0 }).Prepare();
        Assert.Equal((76, 20, 0), (none.Train.Count, none.Validation.Count, none.Test.Count));
        Assert.Equal((80, 100), (none.Forecast!.TrainRows, none.Forecast.TestStart));
        Assert.Contains("76 training and 20 validation windows", none.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void CsvSplit_FewWindows_Warn()
    {
        var data = new DataSpec { Source = "csv", Path = Csv(60), Targets = ["y"], Window = 4, ValFraction = 0.1, TestFraction = 0.05 }.Prepare();
        Assert.Equal((6, 3), (data.Validation.Count, data.Test.Count));
        Assert.Contains(data.Warnings, w => w.StartsWith("only 6 validation windows", StringComparison.Ordinal));
        Assert.Contains(data.Warnings, w => w.StartsWith("only 3 test windows", StringComparison.Ordinal));
        var plenty = new DataSpec { Source = "csv", Path = Csv(200), Targets = ["y"], Window = 4, TestFraction = 0.1 }.Prepare();
        Assert.Empty(plenty.Warnings);
    }

    [Fact]
    public void CsvRowsNeeded_IsTheFewestRowsThatSplitWithATestSet()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            long firstTarget = random.Next(0, 60);
            double v = Math.Round(0.02 + random.NextDouble() * 0.4, 3);
            double t = Math.Round(random.NextDouble() * 0.3, 3);
            long need = DataSpec.CsvRowsNeeded(firstTarget, v, t)!.Value;
            Assert.True(DataSpec.CsvSplitFits(need, firstTarget, v, t), $"F {firstTarget}, f {v}, t {t}: {need} rows");
            for (long r = Math.Max(1, need - 200); r < need; r++)
                Assert.False(DataSpec.CsvSplitFits(r, firstTarget, v, t), $"F {firstTarget}, f {v}, t {t}: {r} rows fit below {need}");
        }
    }

    [Fact]
    public void BadValues_OneClearMessage()
    {
        string path = Csv(100);
        var spec = new DataSpec { Source = "csv", Path = path, Targets = ["y"], Window = 4, TestFraction = 0.1 };
        Assert.Equal("--season 1: must be ≥ 2 (rows per season), or left out to detect it", Assert.Throws<LstmException>(() => (spec with { Season = 1 }).Prepare()).Message);
        Assert.Contains("--season 71: longer than the 70 training rows", Assert.Throws<LstmException>(() => (spec with { Season = 71 }).Prepare()).Message, StringComparison.Ordinal);
        Assert.Equal(70, (spec with { Season = 70 }).Prepare().Forecast!.TrainRows);
        Assert.Contains("--test-fraction 0.8 with --val-fraction 0.2: together they leave no training rows", Assert.Throws<LstmException>(() => (spec with { TestFraction = 0.8 }).Prepare()).Message, StringComparison.Ordinal);
        Assert.Contains("must lie in [0, 1)", Assert.Throws<LstmException>(() => (spec with { TestFraction = -0.1 }).Prepare()).Message, StringComparison.Ordinal);
        Assert.Contains("100 data rows are too few for a window of 4 and a horizon of 1 with a validation fraction of 0.2 and a test fraction of 0.005 (at least 200 rows are needed)",
            Assert.Throws<LstmException>(() => (spec with { TestFraction = 0.005 }).Prepare()).Message, StringComparison.Ordinal);
        Assert.Contains("does not apply to --text", Assert.Throws<LstmException>(() => new DataSelection { Text = path, TestFraction = 0.1 }.ToSpec()).Message, StringComparison.Ordinal);
        Assert.Contains("--season 7: does not apply to a synthetic task", Assert.Throws<LstmException>(() => new DataSelection { Task = "sine", Season = 7 }.ToSpec()).Message, StringComparison.Ordinal);
        Assert.Contains("eval scores the run's own split", Assert.Throws<LstmException>(new EvaluationSettings { Data = new() { TestFraction = 0.2 } }.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Selection_NewCsvRunsKeepATestSet_OldConfigsLoadWithNone()
    {
        Assert.Equal(DataDefaults.TestFraction, new DataSelection { Csv = "a.csv", Target = "y" }.ToSpec().TestFraction);
        Assert.Equal(0.25, new DataSelection { Csv = "a.csv", Target = "y", TestFraction = 0.25 }.ToSpec().TestFraction);
        Assert.Equal(0, new DataSelection { Csv = "a.csv", Target = "y", TestFraction = 0 }.ToSpec().TestFraction);
        Assert.Equal(0, new DataSelection { Text = "a.txt" }.ToSpec().TestFraction);

        // A config.json written before the test split: no test_fraction, no season.
        var spec = new DataSpec { Source = "csv", Path = "a.csv", Targets = ["y"], TestFraction = 0.1, Season = 7 };
        var config = new RunConfig(new JsonObject(), spec, new JsonObject());
        var root = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.Equal(0.1, root["data"]!["test_fraction"]!.GetValue<double>());
        root["data"]!.AsObject().Remove("test_fraction");
        root["data"]!.AsObject().Remove("season");
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, root.ToJsonString());
        var loaded = RunConfig.Load(path).Data;
        Assert.Equal((0.0, 0), (loaded.TestFraction, loaded.Season));
        Assert.DoesNotContain("test_fraction", new RunConfig(new JsonObject(), new DataSpec(), new JsonObject()).ToJson(), StringComparison.Ordinal);
    }
}
