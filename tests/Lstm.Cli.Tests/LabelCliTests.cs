using System.Globalization;

namespace Lstm.Cli.Tests;

/// <summary>
/// <c>lstm train</c>, <c>eval</c> and <c>predict</c> for sequence labellers: the synthetic label
/// and ctc tasks, the tagging and CTC example files end to end; bad input (a missing column, an
/// empty step, an unknown label, a CTC target too long for its frames, conflicting options) gets one
/// message and exit 2 with no run folder or output left.
/// </summary>
public class LabelCliTests : CliRunner
{
    private static double Percent(string text, string after) => double.Parse(text.Split(after)[1].Split('%')[0], CultureInfo.InvariantCulture);

    private static readonly string[] Tags = ["--sequence-column", "sentence", "--text-column", "word", "--label-column", "tag"];

    private static readonly string[] Spoken = ["--sequence-column", "utterance", "--features", "f1,f2,f3,f4,f5,f6", "--label-column", "text"];

    [Fact]
    public void LabelTask_TrainsAndEvaluatesPerStep()
    {
        string run = At("label");
        Ok("train", "--task", "label", "--steps", "200", "--hidden", "24", "--lr", "0.01", "--device", "cpu", "--out", run, "--quiet");
        Assert.Contains("\"sequence-labeller\"", File.ReadAllText(Path.Combine(run, "model", "config.json")));
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("macro-F1", eval);
        Assert.Contains("confusion", eval);
        Assert.True(new FileInfo(Path.Combine(run, "confusion.png")).Length > 1000);
        double accuracy = Percent(eval, "per-step accuracy ");
        Assert.True(accuracy > 95, $"per-step accuracy {accuracy}% after 200 steps");
        Assert.Contains("200 sequences of task label", Ok("eval", "--run", run, "--task", "label", "--val-samples", "200", "--seed", "99", "--device", "cpu"));
    }

    [Fact]
    public void CtcTask_TrainsAndEvaluatesTheLabelErrorRate()
    {
        string run = At("ctc");
        Ok("train", "--task", "ctc", "--steps", "300", "--hidden", "24", "--lr", "0.01", "--device", "cpu", "--out", run, "--quiet");
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        double errors = Percent(eval, "label error rate ");
        Assert.True(errors < 10, $"label error rate {errors}% after 300 steps");
        Assert.Contains("sequence accuracy", eval);
    }

    [Fact]
    public void TaggingFile_TrainsEvaluatesAndPredictsAStepPerRow()
    {
        string run = At("tags");
        Ok(["train", "--kind", "sequence-labeller", "--csv", Data("tags.csv"), .. Tags, "--bidirectional", "--steps", "150", "--hidden", "24", "--device", "cpu", "--out", run, "--quiet"]);
        double accuracy = Percent(Ok("eval", "--run", run, "--device", "cpu"), "per-step accuracy ");
        Assert.True(accuracy > 95, $"per-step accuracy {accuracy}%");
        string input = At("new.csv");
        File.WriteAllText(input, "sentence,word\nx1,the\nx1,old\nx1,dog\nx1,watch\nx1,the\nx1,park\nx2,they\nx2,zebra\n");
        string output = At("tags-out.csv");
        Ok("predict", "--run", run, "--csv", input, "--output", output, "--device", "cpu");
        var lines = File.ReadAllLines(output);
        Assert.Equal("sequence,step,label,p_ADJ,p_ADP,p_ADV,p_DET,p_NOUN,p_PRON,p_VERB", lines[0]);
        Assert.Equal(9, lines.Length);
        Assert.Equal(["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN"], lines.Skip(1).Take(6).Select(l => l.Split(',')[2]));
        Assert.StartsWith("x2,2,", lines[8], StringComparison.Ordinal);
        foreach (string line in lines.Skip(1))
            Assert.Equal(1, line.Split(',').Skip(3).Sum(p => double.Parse(p, CultureInfo.InvariantCulture)), 4);
    }

    [Fact]
    public void SpokenFile_TrainsWithCtc_AndPredictsLabelSequences()
    {
        string run = At("spoken");
        Ok(["train", "--loss", "ctc", "--csv", Data("spoken.csv"), .. Spoken, "--steps", "300", "--hidden", "24", "--lr", "0.01", "--device", "cpu", "--out", run, "--quiet"]);
        string eval = Ok("eval", "--run", run, "--device", "cpu", "--csv", Data("spoken.csv"));
        double errors = Percent(eval, "label error rate ");
        Assert.True(errors < 10, $"label error rate {errors}%");
        string output = At("spoken-out.csv");
        Ok("predict", "--run", run, "--csv", Data("spoken.csv"), "--output", output, "--device", "cpu");
        var lines = File.ReadAllLines(output);
        Assert.Equal("sequence,labels", lines[0]);
        Assert.Equal(221, lines.Length);
        Assert.Matches("^u000,[a-z]( [a-z])*$", lines[1]);
    }

    [Theory]
    [InlineData("missing label column", "--label-column", "pos", "--label-column 'pos' is not a column")]
    [InlineData("missing token column", "--text-column", "token", "--text-column 'token' is not a column")]
    [InlineData("pooling", "--pool", "max", "a sequence-labeller labels every step and pools nothing")]
    [InlineData("a task with a file", "--task", "label", "--task label takes no --csv")]
    [InlineData("unknown loss", "--loss", "mse", "--loss mse: must be ce")]
    public void BadTrainOptions_ExitWith2_AndLeaveNoFolder(string what, string option, string value, string message)
    {
        string run = At("bad");
        List<string> args = ["train", "--kind", "sequence-labeller", "--csv", Data("tags.csv"), .. Tags, "--steps", "5", "--device", "cpu", "--out", run];
        AssertTrainRefused(args, run, what, option, value, message);
    }

    [Fact]
    public void BadFiles_NameFileAndLine_AndExitWith2()
    {
        string empty = At("empty.csv");
        File.WriteAllText(empty, "sentence,word,tag\ns1,the,DET\ns1,,NOUN\ns2,a,DET\n");
        var (code, _, err) = Run("train", "--kind", "sequence-labeller", "--csv", empty, "--sequence-column", "sentence", "--text-column", "word", "--label-column", "tag", "--device", "cpu", "--out", At("e"));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("empty.csv:3: column 'word' is empty", err);

        string tooLong = At("long.csv");
        File.WriteAllText(tooLong, "utterance,f1,text\nu1,0.1,a b\nu1,0.2,\nu2,0.3,b b\nu2,0.4,\nu3,0.1,a\n");
        (code, _, err) = Run("train", "--loss", "ctc", "--csv", tooLong, "--sequence-column", "utterance", "--features", "f1", "--label-column", "text", "--device", "cpu", "--out", At("l"));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("long.csv:4: sequence 'u2' has 2 steps, too few for its target of 2 labels ('b b'): CTC needs at least 3", err);
        Assert.False(Directory.Exists(At("l")));

        string differs = At("differs.csv");
        File.WriteAllText(differs, "utterance,f1,text\nu1,0.1,a b\nu1,0.2,a c\nu2,0.1,b\n");
        (code, _, err) = Run("train", "--loss", "ctc", "--csv", differs, "--sequence-column", "utterance", "--features", "f1", "--label-column", "text", "--device", "cpu", "--out", At("d"));
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("differs.csv:3: sequence 'u1' has target 'a c' here but 'a b' on line 2", err);

        string run = At("small");
        Ok(["train", "--kind", "sequence-labeller", "--csv", Data("tags.csv"), .. Tags, "--steps", "5", "--device", "cpu", "--out", run, "--quiet"]);
        string unknown = At("unknown.csv");
        File.WriteAllText(unknown, "sentence,word,tag\nx,the,DET\nx,dog,ANIMAL\n");
        (code, _, err) = Run("eval", "--run", run, "--csv", unknown, "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("unknown.csv:3: label 'ANIMAL' is not one of the model's classes", err);
        string output = At("p.csv");
        (code, _, err) = Run("predict", "--run", run, "--csv", unknown, "--output", output, "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("unknown.csv:3: label 'ANIMAL'", err);
        Assert.False(File.Exists(output));
        string noColumn = At("nocolumn.csv");
        File.WriteAllText(noColumn, "sentence,text\nx,the\n");
        (code, _, err) = Run("predict", "--run", run, "--csv", noColumn, "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--text-column 'word' is not a column", err);
    }
}
