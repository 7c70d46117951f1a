using System.Globalization;
using System.Text.Json.Nodes;

namespace Lstm.Cli.Tests;

/// <summary><c>lstm train</c> and <c>lstm eval</c> on a CSV forecast: the test split, the baselines beside the model, the per-window output, and bits per character for text.</summary>
public sealed class ForecastEvalTests : CliRunner
{
    private string Train(string run, params string[] more) =>
        Ok(["train", "--device", "cpu", "--csv", Data("weather.csv"), "--target", "temperature", "--features", "temperature,humidity", "--window", "8",
            "--hidden", "12", "--layers", "1", "--steps", "40", "--batch-size", "16", "--quiet", "--out", run, .. more]);

    /// <summary>The weather file's temperature column, row by row.</summary>
    private static double[] Temperatures()
    {
        var lines = File.ReadAllLines(Data("weather.csv"));
        int column = Array.IndexOf(lines[0].Split(','), "temperature");
        return lines.Skip(1).Where(l => l.Length > 0).Select(l => double.Parse(l.Split(',')[column], CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The RMSE printed on a baseline's line of a set's table (the section starting at <paramref name="section"/>).</summary>
    private static double TableRmse(string output, string section, string baseline)
    {
        string part = output[output.IndexOf(section, StringComparison.Ordinal)..];
        string line = part.Split('\n').First(l => l.TrimStart().StartsWith(baseline, StringComparison.Ordinal));
        var fields = line.Trim()[baseline.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return double.Parse(fields[^2], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void TrainAndEval_ScoreTestAndValidationBesideTheBaselines()
    {
        string run = At("weather");
        string train = Train(run, "--season", "7");
        // The end of train: both sets, each with its baselines and the model's skill.
        Assert.Contains("validation: 32 validation windows, target rows 113-144 (day 112 to 143)", train, StringComparison.Ordinal);
        Assert.Contains("test: 16 test windows, target rows 145-160 (day 144 to 159)", train, StringComparison.Ordinal);
        Assert.Contains("seasonal naive (season 7)", train, StringComparison.Ordinal);
        Assert.Contains("skill", train, StringComparison.Ordinal);
        using (var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
        {
            Assert.Equal(0.1, config.RootElement.GetProperty("data").GetProperty("test_fraction").GetDouble());
            Assert.Equal(7, config.RootElement.GetProperty("data").GetProperty("season").GetInt32());
        }

        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("on the run's 32 validation and 16 test windows", eval, StringComparison.Ordinal);
        int validation = eval.IndexOf("validation: ", StringComparison.Ordinal), test = eval.IndexOf("test: ", StringComparison.Ordinal);
        Assert.True(validation >= 0 && test > validation, eval);

        // Baselines by hand, in °C: test target rows 144..159 (0-based), validation rows 112..143; training rows 0..111.
        var y = Temperatures();
        double Rmse(int first, int count, Func<int, double> forecast) => Math.Sqrt(Enumerable.Range(first, count).Average(r => Math.Pow(forecast(r) - y[r], 2)));
        double mean = y.Take(112).Average();
        Assert.Equal(Rmse(144, 16, r => y[r - 1]), TableRmse(eval, "test: ", "persistence"), 5);
        Assert.Equal(Rmse(144, 16, r => y[r - 7]), TableRmse(eval, "test: ", "seasonal naive (season 7)"), 5);
        Assert.Equal(Rmse(144, 16, _ => mean), TableRmse(eval, "test: ", "training mean"), 5);
        Assert.Equal(Rmse(112, 32, r => y[r - 1]), TableRmse(eval, "validation: ", "persistence"), 5);
        Assert.Equal(Rmse(112, 32, _ => mean), TableRmse(eval, "validation: ", "training mean"), 5);

        // Skill against the best baseline, and a warning for every baseline that beats the model.
        foreach (string section in new[] { "validation: ", "test: " })
        {
            double model = TableRmse(eval, section, "model");
            string part = eval[eval.IndexOf(section, StringComparison.Ordinal)..];
            var baselines = new[] { "persistence", "seasonal naive (season 7)", "training mean" }.Select(b => (b, TableRmse(eval, section, b)))
                .Append(("linear AR", TableRmse(eval, section, "linear AR"))).ToList();
            var best = baselines.MinBy(b => b.Item2);
            string skillLine = part.Split('\n').First(l => l.Contains("skill", StringComparison.Ordinal));
            double skill = double.Parse(skillLine.Split("skill ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
            Assert.Equal(1 - model / best.Item2, skill, 3);
            string sectionText = section == "test: " ? part : part[..part.IndexOf("test: ", StringComparison.Ordinal)];
            foreach (var (name, rmse) in baselines)
                Assert.Equal(rmse < model, sectionText.Contains($"the model loses to {name}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void EvalOutput_WritesEachWindowsForecastBesideTheTruth()
    {
        string run = At("weather");
        Train(run);
        string output = At("preds.csv");
        string eval = Ok("eval", "--run", run, "--device", "cpu", "--output", output);
        Assert.Contains("wrote " + output, eval, StringComparison.Ordinal);
        var lines = File.ReadAllLines(output);
        Assert.Equal("set,row,day,temperature,temperature_predicted", lines[0]);
        Assert.Equal(1 + 32 + 16, lines.Length);
        var y = Temperatures();
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(Enumerable.Repeat("validation", 32).Concat(Enumerable.Repeat("test", 16)), rows.Select(r => r[0]));
        Assert.Equal(Enumerable.Range(113, 48).Select(r => r.ToString(CultureInfo.InvariantCulture)), rows.Select(r => r[1]));
        Assert.Equal(Enumerable.Range(112, 48).Select(r => r.ToString(CultureInfo.InvariantCulture)), rows.Select(r => r[2])); // The file's day column.
        Assert.Equal(y[112..160], rows.Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)));
        // The file's predictions give the RMSE eval printed for the test set.
        double rmse = Math.Sqrt(rows.Skip(32).Average(r => Math.Pow(double.Parse(r[4], CultureInfo.InvariantCulture) - double.Parse(r[3], CultureInfo.InvariantCulture), 2)));
        Assert.Equal(TableRmse(eval, "test: ", "model"), rmse, 4);
        Assert.Empty(Directory.GetFiles(Dir, ".*")); // No temporary file left.

        // Other data: every window, named "data".
        Ok("eval", "--run", run, "--device", "cpu", "--csv", Data("weather.csv"), "--output", output);
        lines = File.ReadAllLines(output);
        Assert.Equal(1 + 152, lines.Length);
        Assert.StartsWith("data,9,8,", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void OldRunWithoutATestFraction_EvaluatesItsValidationSetAlone()
    {
        string run = At("old");
        Train(run, "--test-fraction", "0");
        // A run folder from before the test split: no test_fraction or season in config.json.
        string path = Path.Combine(run, "config.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root["data"]!.AsObject().Remove("test_fraction");
        root["data"]!.AsObject().Remove("season");
        File.WriteAllText(path, root.ToJsonString());
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("on the run's 32 validation windows", eval, StringComparison.Ordinal);
        Assert.DoesNotContain("test: ", eval, StringComparison.Ordinal);
        Assert.Contains("persistence", eval, StringComparison.Ordinal);
        double loss = double.Parse(eval.Split("loss (MSE of the z-scored targets): ")[1].Split('\n')[0], CultureInfo.InvariantCulture);
        double best = Metrics(run).Where(m => m.TryGetProperty("val_loss", out _)).Min(m => m.GetProperty("val_loss").GetDouble());
        Assert.True(Math.Abs(loss - best) <= 1e-6 * best, $"eval {loss} vs best validation loss {best}");
    }

    [Fact]
    public void BadValues_ExitTwoWithOneMessage()
    {
        string csv = Data("weather.csv");
        (string[] Args, string Message)[] cases =
        [
            (["--season", "1"], "--season 1: must be ≥ 2"),
            (["--season", "400"], "--season 400: longer than the 112 training rows"),
            (["--test-fraction", "0.8"], "--test-fraction 0.8 with --val-fraction 0.2: together they leave no training rows"),
            (["--test-fraction", "0.001"], "with a validation fraction of 0.2 and a test fraction of 0.001 (at least 1000 rows are needed)"),
        ];
        foreach (var (args, message) in cases)
        {
            var (code, stdout, stderr) = Run(["train", "--device", "cpu", "--csv", csv, "--target", "temperature", "--window", "8", "--steps", "2", "--out", At("bad"), .. args]);
            Assert.Equal(2, code);
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(Directory.Exists(At("bad")));
        }

        var (c, _, err) = Run("train", "--device", "cpu", "--text", Data("verses.txt"), "--test-fraction", "0.1", "--steps", "2", "--out", At("bad"));
        Assert.Equal(2, c);
        Assert.Contains("--test-fraction 0.1: does not apply to --text", err, StringComparison.Ordinal);

        string run = At("weather");
        Train(run);
        (c, _, err) = Run("eval", "--run", run, "--device", "cpu", "--test-fraction", "0.2");
        Assert.Equal(2, c);
        Assert.Contains("eval scores the run's own split", err, StringComparison.Ordinal);
        (c, _, err) = Run("eval", "--run", run, "--device", "cpu", "--season", "1");
        Assert.Equal(2, c);
        Assert.Contains("--season 1: must be ≥ 2", err, StringComparison.Ordinal);
        (c, _, err) = Run("eval", "--run", run, "--device", "cpu", "--output", At("no-such-folder", "p.csv"));
        Assert.Equal(2, c);
        Assert.Contains("--output", err, StringComparison.Ordinal);
    }

    [Fact]
    public void TextEval_ReportsBitsPerCharacter_AndRefusesOutput()
    {
        string run = At("verses");
        Ok("train", "--device", "cpu", "--text", Data("verses.txt"), "--window", "16", "--hidden", "16", "--layers", "1", "--embedding-dim", "8",
            "--steps", "20", "--batch-size", "8", "--quiet", "--out", run);
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        double nats = double.Parse(eval.Split("cross-entropy ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        double bits = double.Parse(eval.Split(" nats (")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.Contains("bits per character", eval, StringComparison.Ordinal);
        Assert.Equal(nats / Math.Log(2), bits, 4);
        double perplexity = double.Parse(eval.Split("perplexity ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.Equal(Math.Exp(nats), perplexity, 3);

        var (code, _, err) = Run("eval", "--run", run, "--device", "cpu", "--output", At("p.csv"));
        Assert.Equal(2, code);
        Assert.Contains("predicts classes", err, StringComparison.Ordinal);
        Assert.False(File.Exists(At("p.csv")));
    }
}
