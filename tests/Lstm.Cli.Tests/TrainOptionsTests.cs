namespace Lstm.Cli.Tests;

/// <summary>The tasks, CSV options and schedules of <c>lstm train</c> at tiny sizes, and the command line it records.</summary>
public sealed class TrainOptionsTests : CliRunner
{
    [Theory]
    [InlineData("copy", "LSTM language model", "perplexity")]
    [InlineData("adding", "LSTM sequence-to-one", "target: MSE")]
    [InlineData("mackey-glass", "LSTM sequence-to-one", "target: MSE")]
    public void Train_EachTask_TrainsAndEvaluates(string task, string model, string metric)
    {
        string run = At(task);
        string[] embedding = task == "copy" ? ["--embedding-dim", "4"] : [];
        string stdout = Ok(["train", "--device", "cpu", "--task", task, "--seq-len", "5", "--train-samples", "32", "--val-samples", "8", "--hidden", "4",
            "--layers", "1", .. embedding, "--steps", "4", "--batch-size", "8", "--out", run]);
        Assert.Contains(model, stdout, StringComparison.Ordinal);
        Assert.Equal(4, Metrics(run).Count);
        string eval = Ok("eval", "--run", run, "--device", "cpu", "--task", task, "--seq-len", "5", "--val-samples", "6");
        Assert.Contains("6 new samples", eval, StringComparison.Ordinal);
        Assert.Contains(metric, eval, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_CsvUnnormalizedWithPatience_StopsEarlyAndEvaluatesInOriginalUnits()
    {
        string run = At("flat");
        // A learning rate of 0 never improves on the first validation: patience 1 stops at the second.
        string stdout = Ok("train", "--device", "cpu", "--csv", Data("weather.csv"), "--target", "temperature,humidity", "--window", "6", "--normalize", "none",
            "--hidden", "4", "--layers", "1", "--epochs", "3", "--batch-size", "16", "--lr", "0", "--validate-every", "2", "--patience", "1", "--test-fraction", "0", "--out", run);
        Assert.Contains("stopped early at step 4 (patience 1)", stdout, StringComparison.Ordinal);
        Assert.Contains("3 epochs (21 steps)", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run, "model", "feature_stats.json")));
        Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("temperature: MSE", eval, StringComparison.Ordinal);
        Assert.Contains("humidity: MSE", eval, StringComparison.Ordinal);
        Assert.DoesNotContain("z-scored", eval, StringComparison.Ordinal);
        string predict = Ok("predict", "--run", run, "--csv", Data("weather.csv"), "--device", "cpu");
        Assert.Contains("humidity = ", predict, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_GruBidirectionalWithDropoutAndProjection_Trains()
    {
        Ok("train", "--device", "cpu", "--seq-len", "5", "--train-samples", "32", "--val-samples", "8", "--cell", "gru", "--bidirectional", "--dropout", "0.2",
            "--hidden", "4", "--steps", "3", "--batch-size", "8", "--out", At("gru"));
        string lstm = Ok("train", "--device", "cpu", "--seq-len", "5", "--train-samples", "32", "--val-samples", "8", "--proj-size", "3", "--hidden", "5",
            "--optimizer", "sgd", "--momentum", "0.9", "--schedule", "step", "--steps", "3", "--batch-size", "8", "--quiet", "--out", At("proj"));
        Assert.DoesNotContain("step 1/", lstm, StringComparison.Ordinal);
        Assert.Contains("trained to step 3", lstm, StringComparison.Ordinal);
    }

    [Fact]
    public void CommandText_QuotesWhatAShellWouldSplit()
    {
        Assert.Equal("lstm train --csv 'my data.csv' --target 'it'\\''s' --lr 0.01",
            CommandLineText.Format(["train", "--csv", "my data.csv", "--target", "it's", "--lr", "0.01"]));
        string run = At("quoted run");
        string csv = At("a b.csv");
        File.Copy(Data("weather.csv"), csv);
        Ok("train", "--device", "cpu", "--csv", csv, "--target", "temperature", "--window", "4", "--hidden", "3", "--layers", "1", "--steps", "2", "--batch-size", "8", "--out", run);
        Assert.Equal($"lstm train --device cpu --csv '{csv}' --target temperature --window 4 --hidden 3 --layers 1 --steps 2 --batch-size 8 --out '{run}'",
            File.ReadAllText(Path.Combine(run, "command.txt")).TrimEnd('\n'));
    }
}
