using System.Globalization;

namespace Lstm.Cli.Tests;

/// <summary>
/// <c>lstm train</c>, <c>eval</c> and <c>translate</c> for encoder-decoders: the synthetic tasks and
/// the example pairs file end to end; a resumed run ends as an uninterrupted one; bad input gets
/// one message naming the file and line, exit 2 and no run folder left.
/// </summary>
public class Seq2SeqCliTests : CliRunner
{
    private static double Percent(string output, string label) =>
        double.Parse(output.Split(label + " ")[1].Split('%')[0], CultureInfo.InvariantCulture);

    [Fact]
    public void ReverseTask_TrainEvalTranslate_EndToEnd()
    {
        string run = At("reverse");
        Ok("train", "--task", "reverse", "--steps", "120", "--hidden", "32", "--attention", "bahdanau", "--cell", "gru", "--validate-every", "40",
            "--train-samples", "800", "--val-samples", "100", "--device", "cpu", "--out", run, "--quiet");
        foreach (string f in new[] { "command.txt", "config.json", "metrics.jsonl", "validation.jsonl", "loss.png", "model/model.safetensors", "model/seq2seq.json", "last/manifest.json", "best/manifest.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        Assert.Contains("\"kind\": \"seq2seq\"", File.ReadAllText(Path.Combine(run, "config.json")));
        Assert.Contains("\"<eos>\"", File.ReadAllText(Path.Combine(run, "model", "seq2seq.json")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "validation.jsonl")).Length);

        string output = At("out.tsv");
        string eval = Ok("eval", "--run", run, "--device", "cpu", "--output", output);
        Assert.Contains("the run's 100 validation pairs (greedy decoding)", eval);
        Assert.Contains("BLEU-4", eval);
        Assert.Contains("on characters", eval);
        Assert.InRange(Percent(eval, "token accuracy"), 0, 100);
        var lines = File.ReadAllLines(output);
        Assert.Equal("source\treference\thypothesis", lines[0]);
        Assert.Equal(101, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Equal(3, l.Split('\t').Length));
        string other = Ok("eval", "--run", run, "--task", "reverse", "--val-samples", "50", "--seed", "7", "--beam", "3", "--device", "cpu");
        Assert.Contains("50 pairs of task reverse (beam search, 3 beams)", other);

        Assert.Single(Ok("translate", "--run", run, "--input", "abcd", "--device", "cpu").Trim().Split('\n'));
        // Characters the vocabulary lacks read as <unk>, without a word.
        Ok("translate", "--run", run, "--input", "xyz!", "--beam", "2", "--device", "cpu");
        string sources = At("sources.txt");
        File.WriteAllText(sources, "abc\n\nhhgf\nj\n");
        Assert.Equal(3, Ok("translate", "--run", run, "--file", sources, "--max-length", "5", "--device", "cpu").Trim().Split('\n').Length);
    }

    [Fact]
    public void NumbersFile_WordTokens_LearnsToWriteDigits()
    {
        string run = At("numbers");
        Ok("train", "--pairs", Data("numbers.tsv"), "--tokens", "word", "--steps", "300", "--hidden", "64", "--validate-every", "100", "--device", "cpu", "--out", run, "--quiet");
        string eval = Ok("eval", "--run", run, "--device", "cpu");
        Assert.Contains("the run's 300 validation pairs", eval);
        Assert.Contains("on words", eval);
        Assert.True(Percent(eval, "exact match") > 80, eval);
        Assert.Equal("4 0 7 1 2", Ok("translate", "--run", run, "--input", "forty thousand seven hundred twelve", "--beam", "3", "--device", "cpu").Trim());
        // A word the vocabulary lacks ("zillion") reads as <unk>; the pair counts, unmatched.
        string pairs = At("few.tsv");
        File.WriteAllText(pairs, "twelve\t1 2\nnine hundred\t9 0 0\none zillion\t1 0 0 0\n");
        string few = Ok("eval", "--run", run, "--pairs", pairs, "--beam", "2", "--device", "cpu");
        Assert.Contains("3 pairs of", few);
        Assert.True(Percent(few, "exact match") <= 100.0 * 2 / 3 + 0.01, few);
    }

    [Fact]
    public void DatesTask_Trains_AndResumeEndsBitForBit()
    {
        string[] common = ["train", "--task", "dates", "--steps", "40", "--validate-every", "10", "--hidden", "32", "--bidirectional", "--train-samples", "300", "--val-samples", "40", "--batch-size", "16", "--dropout", "0.1", "--layers", "2", "--device", "cpu", "--quiet"];
        string straight = At("straight"), stopped = At("stopped");
        Ok([.. common, "--out", straight]);
        Ok([.. common, "--out", stopped, "--until-step", "20"]);
        Assert.False(File.Exists(Path.Combine(stopped, "model", "model.safetensors")));
        Ok("train", "--resume", stopped, "--device", "cpu", "--quiet");
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model", "model.safetensors")), File.ReadAllBytes(Path.Combine(stopped, "model", "model.safetensors")));
        Assert.Equal(Metrics(straight).Select(m => m.GetProperty("train_loss").GetDouble()), Metrics(stopped).Select(m => m.GetProperty("train_loss").GetDouble()));
        Assert.Equal(File.ReadAllText(Path.Combine(straight, "validation.jsonl")), File.ReadAllText(Path.Combine(stopped, "validation.jsonl")));
        var (code, _, err) = Run("train", "--resume", stopped, "--device", "cpu", "--hidden", "64");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("only --device, --until-step and --quiet may be given", err);
        (code, _, err) = Run("plan", "--task", "dates");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("not for an encoder-decoder", err);
        (code, _, err) = Run("eval", "--run", straight, "--task", "reverse", "--device", "cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("trained on --task dates", err);
    }

    [Theory]
    [InlineData("one\t1\nno tab\n", "bad.tsv line 2: no tab")]
    [InlineData("one\t1\ntwo\t2\tdeux\n", "bad.tsv line 2: 2 tabs")]
    [InlineData("\n\n \t3\n", "bad.tsv line 3: the source (before the tab) is empty")]
    [InlineData("one\t1\ntwo\t\n", "bad.tsv line 2: the target (after the tab) is empty")]
    [InlineData("one two\t1\n...\t2\nthree\t3\n", "bad.tsv line 2: the source has no words")]
    public void BadPairsFiles_ExitWith2_NamingTheLine_AndLeaveNoFolder(string text, string message)
    {
        string file = At("bad.tsv");
        File.WriteAllText(file, text);
        string run = At("bad-run");
        var (code, _, err) = Run("train", "--pairs", file, "--tokens", "word", "--steps", "5", "--device", "cpu", "--out", run);
        Assert.Equal(Program.BadInput, code);
        Assert.StartsWith($"error: {file} line ", err, StringComparison.Ordinal);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(run));
    }

    [Theory]
    [InlineData("--attention", "dot", "attention 'dot'")]
    [InlineData("--cell", "rnn-tanh", "--cell rnn-tanh: an encoder-decoder's cell is lstm or gru")]
    [InlineData("--vocab-size", "4", "--vocab-size 4: must be at least 5")]
    [InlineData("--max-length", "3", "line 1: the source has 14 characters, more than --max-length 3")]
    [InlineData("--pool", "max", "--pool is not an option of an encoder-decoder")]
    [InlineData("--seq-len", "5", "--seq-len are for --task")]
    public void BadTrainOptions_ExitWith2(string option, string value, string message)
    {
        string run = At("bad");
        string file = At("ok.tsv");
        File.WriteAllText(file, "abcdefghijklmn\tx\nb\ty\nc\tz\n");
        var (code, _, err) = Run("train", "--pairs", file, "--steps", "5", "--device", "cpu", "--out", run, option, value);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void BadTranslateInput_ExitsWith2()
    {
        string run = At("tiny");
        Ok("train", "--task", "reverse", "--steps", "3", "--hidden", "8", "--train-samples", "50", "--val-samples", "10", "--device", "cpu", "--out", run, "--quiet");
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--input", ""], "--input: the source is empty"),
            (["--input", "   "], "--input: the source is empty"),
            (["--input", "ab", "--file", "x.txt"], "give --input TEXT or --file FILE"),
            (["--input", "ab", "--beam", "0"], "--beam 0: must be at least 1"),
            (["--file", At("none.txt")], "none.txt: no such file"),
        })
        {
            var (code, _, err) = Run(["translate", "--run", run, "--device", "cpu", .. args]);
            Assert.True(code == Program.BadInput, $"{string.Join(' ', args)}: exit {code}");
            Assert.Contains(message, err);
        }

        var (c, _, e) = Run("translate", "--run", run, "--input", "ab", "--beem", "3");
        Assert.Equal(Program.BadInput, c);
        Assert.Contains("--beem", e);
        string classifier = At("classifier");
        Ok("train", "--task", "classify", "--steps", "2", "--hidden", "8", "--device", "cpu", "--out", classifier, "--quiet");
        (c, _, e) = Run("translate", "--run", classifier, "--input", "ab", "--device", "cpu");
        Assert.Equal(Program.BadInput, c);
        Assert.Contains("not an encoder-decoder run", e);

        // The verbs of other kinds of run name the one to use instead.
        (c, _, e) = Run("generate", "--run", run, "--device", "cpu");
        Assert.Equal(Program.BadInput, c);
        Assert.Contains("lstm translate --run", e);
        (c, _, e) = Run("predict", "--run", run, "--device", "cpu");
        Assert.Equal(Program.BadInput, c);
        Assert.Contains("lstm translate --run", e);
        (c, _, e) = Run("generate", "--run", classifier, "--device", "cpu");
        Assert.Equal(Program.BadInput, c);
        Assert.Contains("lstm predict --run", e);
    }
}
