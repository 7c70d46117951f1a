namespace Lstm.Cli.Tests;

/// <summary>
/// <c>lstm train</c>, <c>eval</c> and <c>predict</c> for sequence classifiers: the synthetic task,
/// a text CSV and a CSV of feature sequences end to end; a resumed run ends as an uninterrupted
/// one; bad input gets one message and exit 2 with no run folder left.
/// </summary>
public class ClassifyCliTests : CliRunner
{
    [Fact]
    public void Task_TrainEvalPredict_EndToEnd()
    {
        string run = At("task");
        Ok("train", "--task", "classify", "--steps", "300", "--hidden", "32", "--cell", "gru", "--pool", "last", "--device", "cpu", "--out", run, "--quiet");
        foreach (string f in new[] { "config.json", "metrics.jsonl", "loss.png", "model/model.safetensors", "model/classifier.json", "last/manifest.json", "best/manifest.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("accuracy", eval);
        Assert.Contains("macro-F1", eval);
        Assert.Contains("confusion", eval);
        Assert.True(new FileInfo(Path.Combine(run, "confusion.png")).Length > 1000);
        double accuracy = double.Parse(eval.Split("accuracy ")[1].Split('%')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(accuracy > 90, $"accuracy {accuracy}% after 300 steps");
        string other = Ok("eval", "--run", run, "--task", "classify", "--val-samples", "200", "--seed", "99", "--device", "cpu");
        Assert.Contains("200 sequences of task classify", other);
    }

    [Fact]
    public void TextCsv_TrainsEvaluatesAndPredictsLabelsWithProbabilities()
    {
        string run = At("reviews");
        Ok("train", "--csv", Data("reviews.csv"), "--text-column", "review", "--label-column", "sentiment", "--tokens", "word", "--vocab-size", "80",
            "--steps", "150", "--device", "cpu", "--out", run, "--quiet");
        string classifier = File.ReadAllText(Path.Combine(run, "model", "classifier.json"));
        Assert.Contains("\"<unk>\"", classifier);
        Assert.Contains("\"sequence-classifier\"", File.ReadAllText(Path.Combine(run, "model", "config.json")));
        Ok("eval", "--run", run, "--device", "cpu", "--csv", Data("reviews.csv"));
        string input = At("new.csv");
        File.WriteAllText(input, "review\n\"Lovely staff, great coffee.\"\nThe phone keeps crashing and the service was rude.\nzzz qqq\n");
        string output = At("predictions.csv");
        Ok("predict", "--run", run, "--csv", input, "--output", output, "--device", "cpu");
        var lines = File.ReadAllLines(output);
        Assert.Equal("sequence,label,p_negative,p_positive", lines[0]);
        Assert.Equal(4, lines.Length);
        foreach (string line in lines.Skip(1))
        {
            var f = line.Split(',');
            double p0 = double.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture), p1 = double.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(1, p0 + p1, 4);
            Assert.Equal(p1 > p0 ? "positive" : "negative", f[1]);
        }
    }

    [Fact]
    public void FeatureSequences_TrainWithBalancedWeights_AndResumeEndsBitForBit()
    {
        string[] common = ["--csv", Data("strokes.csv"), "--sequence-column", "stroke", "--features", "x,y,pressure", "--label-column", "direction",
            "--steps", "60", "--validate-every", "20", "--class-weights", "balanced", "--bidirectional", "--pool", "max", "--device", "cpu", "--quiet"];
        string straight = At("straight"), stopped = At("stopped");
        Ok(["train", .. common, "--out", straight]);
        Ok(["train", .. common, "--out", stopped, "--until-step", "20"]);
        Assert.False(File.Exists(Path.Combine(stopped, "model", "model.safetensors")));
        Ok("train", "--resume", stopped, "--device", "cpu", "--quiet");
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model", "model.safetensors")), File.ReadAllBytes(Path.Combine(stopped, "model", "model.safetensors")));
        Assert.Equal(Metrics(straight).Select(m => m.GetProperty("train_loss").GetDouble()), Metrics(stopped).Select(m => m.GetProperty("train_loss").GetDouble()));
        Assert.Contains("class weights", Ok("train", "--resume", stopped, "--device", "cpu"));
        var (code, _, err) = Run("train", "--resume", stopped, "--device", "cpu", "--steps", "100");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--steps cannot change a classification run", err);
    }

    [Theory]
    [InlineData("missing text column", "--text-column", "body", "'body' is not a column")]
    [InlineData("missing label column", "--label-column", "stars", "'stars' is not a column")]
    [InlineData("bad tokens", "--tokens", "byte", "--tokens 'byte'")]
    [InlineData("bad pool", "--pool", "median", "pool 'median'")]
    public void BadTrainOptions_ExitWith2_AndLeaveNoFolder(string what, string option, string value, string message)
    {
        string run = At("bad");
        List<string> args = [ "train", "--csv", Data("reviews.csv"), "--text-column", "review", "--label-column", "sentiment", "--steps", "5", "--device", "cpu", "--out", run];
        AssertTrainRefused(args, run, what, option, value, message);
    }

    [Fact]
    public void EmptySequences_AndUnknownLabels_ExitWith2()
    {
        string empty = At("empty.csv");
        File.WriteAllText(empty, "review,sentiment\nGood.,positive\n\"  ...  \",negative\nBad.,negative\n");
        var (code, _, err) = Run("train", "--csv", empty, "--text-column", "review", "--label-column", "sentiment", "--tokens", "word", "--device", "cpu", "--out", At("e"));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("empty.csv:3", err);
        Assert.Contains("empty sequence", err);

        string run = At("small");
        Ok("train", "--csv", Data("reviews.csv"), "--text-column", "review", "--label-column", "sentiment", "--steps", "5", "--device", "cpu", "--out", run, "--quiet");
        string unknown = At("unknown.csv");
        File.WriteAllText(unknown, "review,sentiment\nFine.,positive\nMeh.,neutral\n");
        string output = At("p.csv");
        (code, _, err) = Run("predict", "--run", run, "--csv", unknown, "--output", output, "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("unknown.csv:3: label 'neutral' is not one of the model's classes", err);
        Assert.False(File.Exists(output));
        string noColumn = At("nocolumn.csv");
        File.WriteAllText(noColumn, "text\nFine.\n");
        (code, _, err) = Run("predict", "--run", run, "--csv", noColumn, "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--text-column 'review' is not a column", err);
    }
}
