using System.Globalization;
using System.Text.RegularExpressions;
using Lstm.Runtime.Data;

namespace Lstm.Cli.Tests;

/// <summary>Forecasting end to end: trends learned through differencing, H-step forecasts with their time column, run folders that move, extending a run, and bad transform options.</summary>
public sealed class ForecastCliTests : CliRunner
{
    /// <summary>The README's example: a trending weekly series, 7 days ahead from 4 weeks, modelled as first differences (or as <paramref name="more"/> says).</summary>
    private static string[] TrendTrain(string csv, string run, params string[] more) =>
        ["train", "--device", "cpu", "--csv", csv, "--target", "value", "--window", "28", "--horizon", "7", .. more.Length == 0 ? ["--difference", "1"] : more,
            "--hidden", "32", "--layers", "1", "--steps", "300", "--batch-size", "32", "--lr", "0.01", "--out", run];

    private static double Overall(string eval, string name)
    {
        var m = Regex.Match(eval, $@"{name} ([0-9.eE+-]+)");
        Assert.True(m.Success, $"no '{name}' in: {eval}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void TrendSeasonCsv_IsTheGeneratorsOutput() =>
        Assert.Equal(new TrendSeason().Csv(400, 7), File.ReadAllText(Data("trend_season.csv")));

    [Fact]
    public void TrendSeason_LearnedModelBeatsPersistenceAndSeasonalNaive_OnTheHeldOutPart()
    {
        string run = At("trend");
        Ok(TrendTrain(Data("trend_season.csv"), run));
        string eval = Ok("eval", "--run", run, "--device", "cpu", "--season", "7");
        for (int k = 1; k <= 7; k++)
            Assert.Contains($"value +{k}: ", eval, StringComparison.Ordinal);
        double model = Overall(eval, "overall RMSE: model");
        double persistence = Overall(eval, "persistence");
        double seasonal = Overall(eval, "seasonal naive");
        Assert.True(model < persistence && model < seasonal, $"model {model}, persistence {persistence}, seasonal naive {seasonal}");
        Assert.True(model < 0.9 * seasonal, $"model {model} is not clearly better than seasonal naive {seasonal}");
    }

    [Fact]
    public void GlobalLevels_CannotExtrapolateTheTrend_WhereDifferencingCan()
    {
        // The same budget with level targets z-scored globally: the held-out part lies above every training value.
        string run = At("levels");
        Ok(TrendTrain(Data("trend_season.csv"), run, "--difference", "0"));
        double levels = Overall(Ok("eval", "--run", run, "--device", "cpu", "--season", "7"), "overall RMSE: model");
        string window = At("window");
        Ok(TrendTrain(Data("trend_season.csv"), window, "--normalize", "window"));
        double relative = Overall(Ok("eval", "--run", window, "--device", "cpu", "--season", "7"), "overall RMSE: model");
        Assert.True(relative < levels / 2, $"window-normalized {relative} vs global levels {levels}");
    }

    [Fact]
    public void RunFolder_MovedWithItsData_PredictsFromAnyDirectory_AndResumesWithMoreSteps()
    {
        string previous = Environment.CurrentDirectory;
        Directory.CreateDirectory(At("project", "data"));
        File.Copy(Data("trend_season.csv"), At("project", "data", "series.csv"));
        Environment.CurrentDirectory = At("project");
        try
        {
            Ok("train", "--device", "cpu", "--csv", Path.Combine("data", "series.csv"), "--target", "value", "--window", "14", "--horizon", "3",
                "--normalize", "window", "--hidden", "8", "--layers", "1", "--steps", "20", "--batch-size", "16", "--checkpoint-every", "10", "--out", Path.Combine("runs", "a"));
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }

        Directory.Move(At("project"), At("moved"));
        string run = At("moved", "runs", "a");
        string config = File.ReadAllText(Path.Combine(run, "config.json"));
        Assert.Contains("\"path_from_run\": \"../../data/series.csv\"", config.Replace("\\\\", "/", StringComparison.Ordinal), StringComparison.Ordinal);

        string forecast = At("forecast.csv");
        string png = At("forecast.png");
        string predict = Ok("predict", "--run", run, "--device", "cpu", "--output", forecast, "--plot", png, "--holdout");
        Assert.Contains("truth", predict, StringComparison.Ordinal);
        var lines = File.ReadAllLines(forecast);
        Assert.Equal(["horizon,date,value"], lines.Take(1));
        // 400 days from 2020-01-01 end on 2021-02-03; the last 3 are held out and forecast.
        Assert.Equal(["1,2021-02-01", "2,2021-02-02", "3,2021-02-03"], lines.Skip(1).Select(l => string.Join(',', l.Split(',').Take(2))));
        Assert.True(File.ReadAllBytes(png).AsSpan(1, 3).SequenceEqual("PNG"u8), "forecast.png is a PNG");
        string ahead = Ok("predict", "--run", run, "--device", "cpu");
        Assert.Contains("2021-02-04  value = ", ahead, StringComparison.Ordinal);
        Assert.Contains("2021-02-06  value = ", ahead, StringComparison.Ordinal);
        Assert.Contains("per step ahead", Ok("eval", "--run", run, "--device", "cpu"), StringComparison.Ordinal);

        // A finished run extended: 20 more steps from its last checkpoint.
        string resumed = Ok("train", "--resume", run, "--steps", "40", "--device", "cpu");
        Assert.Contains("trained to step 40", resumed, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), Metrics(run).Select(m => m.GetProperty("step").GetInt64()));
        Assert.Contains("\"steps\": 40", File.ReadAllText(Path.Combine(run, "config.json")), StringComparison.Ordinal);
        var (code, _, err) = Run("train", "--resume", run, "--steps", "30", "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--steps 30: the run in", err, StringComparison.Ordinal);
        Assert.Contains("has trained 40 steps already", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--difference|3", "--difference 3: must be 0, 1 or 2")]
    [InlineData("--target-mode|delta", "--target-mode delta: expected level, change")]
    [InlineData("--normalize|minmax", "--normalize minmax: expected global, window, zscore or none")]
    [InlineData("--horizon|390", "400 data rows are too few for a window of 8 and a horizon of 390 with")]
    [InlineData("--horizon|315|--difference|2", "a horizon of 315 differenced 2 times")]
    public void BadTransformOptions_OneMessage_Exit2_NoFolder(string options, string message)
    {
        string run = At("bad");
        var (code, stdout, stderr) = Run(["train", "--device", "cpu", "--csv", Data("trend_season.csv"), "--target", "value", "--window", "8", "--out", run, .. options.Split('|')]);
        Assert.True(code == Program.BadInput, $"exit {code}: {stdout} {stderr}");
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(run));
    }
}
