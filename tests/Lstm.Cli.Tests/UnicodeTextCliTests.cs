using System.Text;
using System.Text.Json;

namespace Lstm.Cli.Tests;

/// <summary>A text with emoji and combining marks trains, and its run generates and evaluates: the vocabulary holds whole characters.</summary>
public sealed class UnicodeTextCliTests : CliRunner
{
    [Fact]
    public void Train_Generate_Eval_OnTextWithEmojiAndCombiningMarks()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 40; i++)
            sb.Append(i % 2 == 0 ? "cafe\u0301 \U0001F600 " : "na\u0308ive \U0001F680\n");
        string text = At("emoji.txt");
        File.WriteAllText(text, sb.ToString());
        string run = At("run");
        Ok("train", "--device", "cpu", "--text", text, "--window", "8", "--hidden", "8", "--layers", "1", "--embedding-dim", "4", "--steps", "4", "--batch-size", "4", "--quiet", "--out", run);

        var chars = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "model", "vocab.json"))).RootElement.GetProperty("chars")
            .EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains("\U0001F600", chars);
        Assert.Contains("\U0001F680", chars);
        Assert.Contains("\u0301", chars);
        Assert.DoesNotContain("\uFFFD", chars);
        var vocabulary = chars.Select(c => Rune.GetRuneAt(c, 0)).ToHashSet();

        string generated = Ok("generate", "--run", run, "--device", "cpu", "--prompt", "\U0001F600", "--length", "40", "--temperature", "1.5");
        generated = generated.TrimEnd('\n');
        Assert.StartsWith("\U0001F600", generated, StringComparison.Ordinal);
        Assert.True(generated.EnumerateRunes().Count() >= 41, generated);
        Assert.All(generated.EnumerateRunes(), r => Assert.Contains(r, vocabulary));

        Ok("eval", "--run", run, "--device", "cpu", "--text", text);
    }
}
