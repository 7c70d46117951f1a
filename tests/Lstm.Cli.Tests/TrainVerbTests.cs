using System.Globalization;
using System.Text.Json;

namespace Lstm.Cli.Tests;

/// <summary>The training verbs end to end on the cpu device: train → eval → predict on a CSV, train → generate on a text, resume, compare.</summary>
public sealed class TrainVerbTests : CliRunner
{
    /// <summary>A small, quick model and schedule for the CSV.</summary>
    private string[] CsvTrain(string run, params string[] more) =>
        ["train", "--device", "cpu", "--csv", Data("weather.csv"), "--target", "temperature", "--features", "temperature,humidity", "--window", "8",
            "--hidden", "12", "--layers", "1", "--steps", "60", "--batch-size", "16", "--out", run, .. more];

    [Fact]
    public void Train_NoArguments_TrainsTheSineTaskAndTheLossFalls()
    {
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Dir;
        try
        {
            string stdout = Ok("train");
            Assert.Contains("data: next value of noisy sine waves", stdout, StringComparison.Ordinal);
            Assert.Contains("model: LSTM sequence-to-one", stdout, StringComparison.Ordinal);
            var run = Assert.Single(Directory.GetDirectories(At("runs")));
            Assert.Matches(@"sine-\d{8}-\d{6}$", run);
            Assert.Equal("lstm train", File.ReadAllText(Path.Combine(run, "command.txt")).Trim());
            var metrics = Metrics(run);
            Assert.Equal(Enumerable.Range(1, metrics.Count).Select(i => (long)i), metrics.Select(m => m.GetProperty("step").GetInt64()));
            double first = metrics.Take(10).Average(m => m.GetProperty("train_loss").GetDouble());
            double last = metrics.TakeLast(10).Average(m => m.GetProperty("train_loss").GetDouble());
            Assert.True(last < first / 10, $"train loss fell from {first} only to {last}");
            var validations = metrics.Where(m => m.TryGetProperty("val_loss", out _)).ToList();
            Assert.True(validations.Count >= 5, "validation every tenth of the run");
            Assert.True(validations[^1].GetProperty("val_loss").GetDouble() < 0.02, "the last validation MSE of the sine task");
            Assert.True(File.ReadAllBytes(Path.Combine(run, "loss.png")).AsSpan(1, 3).SequenceEqual("PNG"u8), "loss.png is a PNG");
            foreach (var dir in new[] { "model", "best", "last" })
                Assert.True(File.Exists(Path.Combine(run, dir, "model.safetensors")), dir);
            Assert.True(File.Exists(Path.Combine(run, "model", "config.json")));
            Assert.Empty(Directory.GetFiles(run, ".*", SearchOption.AllDirectories)); // No temporary file is left.
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    [Fact]
    public void TrainEvalPredict_Csv_ForecastsInOriginalUnits()
    {
        string run = At("weather");
        string stdout = Ok(CsvTrain(run));
        Assert.Contains("160 rows", stdout, StringComparison.Ordinal);
        // 160 rows: the last 16 (a test fraction of 0.1) test, the 32 before them (0.2) validate, windows of 8 train on the rest.
        Assert.Contains("104 training, 32 validation and 16 test windows", stdout, StringComparison.Ordinal);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
        {
            var data = config.RootElement.GetProperty("data");
            Assert.Equal("csv", data.GetProperty("source").GetString());
            Assert.Equal(2, config.RootElement.GetProperty("model").GetProperty("input_size").GetInt32());
        }

        Assert.True(File.Exists(Path.Combine(run, "model", "feature_stats.json")));
        Assert.True(File.Exists(Path.Combine(run, "best", "target_stats.json")));

        // On its own validation set, eval's loss is the best validation loss the run recorded.
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        double loss = Number(eval, "loss (MSE of the z-scored targets): ");
        double best = Metrics(run).Where(m => m.TryGetProperty("val_loss", out _)).Min(m => m.GetProperty("val_loss").GetDouble());
        Assert.True(Math.Abs(loss - best) <= 1e-6 * best, $"eval {loss} vs best validation loss {best}");
        double mse = Number(eval, "temperature: MSE ");
        double mae = Number(eval, "MAE ");
        Assert.True(mse > 0 && mae > 0 && mae * mae <= mse * 1.000001, $"MSE {mse}, MAE {mae}");
        Assert.True(mse < 16, $"MSE {mse} in °C² on a series of amplitude 8");

        string other = Ok("eval", "--run", run, "--device", "cpu", "--csv", Data("weather.csv"));
        Assert.Contains("152 windows", other, StringComparison.Ordinal);

        string forecast = At("forecast.csv");
        string predict = Ok("predict", "--run", run, "--csv", Data("weather.csv"), "--output", forecast, "--device", "cpu");
        Assert.Contains("temperature = ", predict, StringComparison.Ordinal);
        var lines = File.ReadAllLines(forecast);
        // The file's first column, day, counts rows: the forecast's row continues it.
        Assert.Equal("horizon,day,temperature", lines[0]);
        var fields = lines[1].Split(',');
        Assert.Equal("1", fields[0]);
        Assert.Equal("160", fields[1]);
        double value = double.Parse(fields[2], CultureInfo.InvariantCulture);
        Assert.InRange(value, 0, 25); // Temperatures of the file lie in about [3, 21].
    }

    [Fact]
    public void TrainGenerate_Text_SampleDependsOnlyOnTheSeed()
    {
        string run = At("verses");
        Ok("train", "--device", "cpu", "--text", Data("verses.txt"), "--window", "16", "--hidden", "32", "--layers", "1", "--embedding-dim", "8",
            "--steps", "80", "--batch-size", "8", "--out", run);
        Assert.True(File.Exists(Path.Combine(run, "model", "vocab.json")));
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("perplexity", eval, StringComparison.Ordinal);
        double ce = Number(eval, "cross-entropy ");
        Assert.True(ce < Math.Log(26), $"cross-entropy {ce} is no better than uniform guessing over 26 characters");

        string a = Ok("generate", "--run", run, "--prompt", "the cat", "--length", "60", "--seed", "3", "--device", "cpu");
        string b = Ok("generate", "--run", run, "--prompt", "the cat", "--length", "60", "--seed", "3", "--device", "cpu");
        Assert.Equal(a, b);
        Assert.StartsWith("the cat", a, StringComparison.Ordinal);
        Assert.Equal("the cat".Length + 60 + Environment.NewLine.Length, a.Length);
        var vocabulary = File.ReadAllText(Data("verses.txt")).ToHashSet();
        Assert.All(a[..^Environment.NewLine.Length], c => Assert.Contains(c, vocabulary));
        string greedy1 = Ok("generate", "--run", run, "--prompt", "the", "--temperature", "0", "--length", "30", "--seed", "1", "--device", "cpu");
        string greedy2 = Ok("generate", "--run", run, "--prompt", "the", "--temperature", "0", "--length", "30", "--seed", "2", "--device", "cpu");
        Assert.Equal(greedy1, greedy2);
    }

    [Fact]
    public void Resume_EqualsTheUninterruptedRun()
    {
        string[] settings = ["--task", "sine", "--seq-len", "8", "--train-samples", "96", "--val-samples", "24", "--hidden", "8", "--layers", "2", "--dropout", "0.25",
            "--steps", "30", "--batch-size", "8", "--validate-every", "5", "--checkpoint-every", "5", "--schedule", "cosine", "--warmup", "3", "--device", "cpu"];
        string whole = At("whole");
        Ok(["train", .. settings, "--out", whole]);

        string pieces = At("pieces");
        string first = Ok(["train", .. settings, "--out", pieces, "--until-step", "13"]);
        Assert.Contains("continue with: lstm train --resume", first, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(pieces, "model", "model.safetensors")), "model/ gets its weights only when training ends");
        Assert.Equal(13, Metrics(pieces).Count);

        // A crash after the checkpoint at step 13 would have logged steps past it: resume cuts them.
        var log = File.ReadAllLines(Path.Combine(pieces, "metrics.jsonl")).ToList();
        File.WriteAllLines(Path.Combine(pieces, "metrics.jsonl"), log.Concat([log[^1].Replace("\"step\":13", "\"step\":14", StringComparison.Ordinal)]));
        string resumed = Ok("train", "--resume", pieces, "--device", "cpu");
        Assert.Contains("resuming", resumed, StringComparison.Ordinal);

        var expected = Metrics(whole);
        var actual = Metrics(pieces);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            foreach (var key in new[] { "step", "epoch", "train_loss", "lr", "grad_norm" })
                Assert.Equal(expected[i].GetProperty(key).GetRawText(), actual[i].GetProperty(key).GetRawText());
            Assert.Equal(expected[i].TryGetProperty("val_loss", out var v1) ? v1.GetRawText() : null, actual[i].TryGetProperty("val_loss", out var v2) ? v2.GetRawText() : null);
        }

        foreach (var file in new[] { "model/model.safetensors", "last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, file)), File.ReadAllBytes(Path.Combine(pieces, file)));
    }

    [Fact]
    public void Train_SameSeed_GivesTheSameRunBitForBit()
    {
        string[] settings = ["train", "--device", "cpu", "--task", "adding", "--seq-len", "6", "--train-samples", "64", "--val-samples", "16", "--cell", "gru",
            "--hidden", "6", "--steps", "12", "--batch-size", "8"];
        Ok([.. settings, "--seed", "7", "--out", At("a")]);
        Ok([.. settings, "--seed", "7", "--out", At("b")]);
        Assert.Equal(Metrics(At("a")).Select(m => m.GetProperty("train_loss").GetRawText()), Metrics(At("b")).Select(m => m.GetProperty("train_loss").GetRawText()));
        Assert.Equal(File.ReadAllBytes(At("a", "model", "model.safetensors")), File.ReadAllBytes(At("b", "model", "model.safetensors")));
        Ok([.. settings, "--out", At("c"), "--seed", "8"]);
        Assert.NotEqual(File.ReadAllBytes(At("a", "model", "model.safetensors")), File.ReadAllBytes(At("c", "model", "model.safetensors")));
    }

    [Fact]
    public void Compare_PrintsOneMeasuredRowPerCell()
    {
        string stdout = Ok("compare", "--task", "sine", "--seq-len", "8", "--steps", "20", "--hidden", "8", "--batch-size", "16", "--device", "cpu");
        var rows = stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length == 6 && f[0] is "rnn-tanh" or "lstm" or "gru").ToList();
        Assert.Equal(["rnn-tanh", "lstm", "gru"], rows.Select(r => r[0]));
        foreach (var r in rows)
        {
            Assert.True(long.Parse(r[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture) > 0);
            Assert.All(r.Skip(2), f => Assert.True(double.Parse(f, CultureInfo.InvariantCulture) > 0, f));
        }

        // Same hidden size: the LSTM has 4 gate blocks, the GRU 3, the RNN 1.
        var parameters = rows.Select(r => long.Parse(r[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture)).ToArray();
        Assert.True(parameters[0] < parameters[2] && parameters[2] < parameters[1]);
    }

    /// <summary>The number right after <paramref name="label"/> in the output.</summary>
    private static double Number(string output, string label)
    {
        int at = output.IndexOf(label, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{label}' not in: {output}");
        var text = new string(output[(at + label.Length)..].TakeWhile(c => !char.IsWhiteSpace(c)).ToArray());
        return double.Parse(text, CultureInfo.InvariantCulture);
    }
}
