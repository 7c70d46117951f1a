using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Lstm.Cli.Tests;

/// <summary>
/// Sizes and fractions beyond what a run can hold: one message naming the option (and, for a
/// memory bound, the bytes the run would need), exit 2, at once, and no run folder.
/// </summary>
public sealed class BoundsTests : CliRunner
{
    private string Csv(string name, int rows, Func<int, string>? value = null)
    {
        string path = At(name);
        File.WriteAllLines(path, ["t,v", .. Enumerable.Range(0, rows).Select(i => $"{i},{value?.Invoke(i) ?? (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture)}")]);
        return path;
    }

    private void TrainFails(string[] args, params string[] fragments)
    {
        string run = At("run");
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = Run(["train", "--device", "cpu", "--quiet", "--out", run, .. args]);
        Assert.True(code == Program.BadInput, $"exit {code}; stdout: {stdout}; stderr: {stderr}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one message expected: {stderr}");
        foreach (var f in fragments)
            Assert.Contains(f, lines[0], StringComparison.Ordinal);
        Assert.False(Directory.Exists(run), "a refused run leaves no folder");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"refused only after {clock.Elapsed}");
    }

    // Without test rows (--test-fraction 0), the validation fraction alone decides.
    [Theory]
    [InlineData("1e-17", "--val-fraction 1E-17", "no training or no validation window")]
    [InlineData("0.9999999999999999", "validation fraction of 0.9999999999999999", "rows are needed")]
    public void Csv_ExtremeValidationFraction_AnswersAtOnce(string fraction, string first, string second) =>
        TrainFails(["--csv", Csv("s.csv", 80), "--target", "v", "--window", "4", "--val-fraction", fraction, "--test-fraction", "0"], first, second);

    [Theory]
    [InlineData("1e-17", "0.1", "with a validation fraction of 1E-17 and a test fraction of 0.1", "rows are needed")]
    [InlineData("0.2", "1e-17", "a test fraction of 1E-17", "rows are needed")]
    public void Csv_ExtremeTestFraction_AnswersAtOnce(string validation, string test, string first, string second) =>
        TrainFails(["--csv", Csv("s.csv", 80), "--target", "v", "--window", "4", "--val-fraction", validation, "--test-fraction", test], first, second);

    [Fact]
    public void Csv_HugeWindow_IsRefused() =>
        TrainFails(["--csv", Csv("s.csv", 80), "--target", "v", "--window", "2147483647"], "--window 2147483647", "must be ≤");

    [Fact]
    public void Csv_TooFewRows_SaysHowManyAreNeeded() =>
        TrainFails(["--csv", Csv("s.csv", 20), "--target", "v", "--window", "10", "--val-fraction", "0.5", "--test-fraction", "0"], "20 data rows are too few", "at least 22 rows");

    [Fact]
    public void Csv_TooFewRowsForATestSet_SaysHowManyAreNeeded() =>
        // ⌊R·0.5⌋ − ⌊R·0.25⌋ ≥ 11 training rows first holds at R = 42.
        TrainFails(["--csv", Csv("s.csv", 40), "--target", "v", "--window", "10", "--val-fraction", "0.5", "--test-fraction", "0.25"], "40 data rows are too few", "at least 42 rows");

    [Fact]
    public void Csv_ValueWhoseSquareOverflows_NamesRowAndColumn() =>
        TrainFails(["--csv", Csv("big.csv", 80, i => i == 16 ? "1e308" : "1"), "--target", "v", "--window", "4"], "big.csv", "data row 17", "column 'v'", "1E+308");

    [Fact]
    public void Csv_Unnormalized_ValueBeyondFloat32_NamesRowAndColumn() =>
        TrainFails(["--csv", Csv("big.csv", 80, i => i == 4 ? "-1e300" : "1"), "--target", "v", "--window", "4", "--normalize", "none"], "data row 5", "column 'v'", "float32");

    [Fact]
    public void Text_TinyValidationFraction_IsRefused()
    {
        string text = At("t.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("abc def\n", 40)));
        TrainFails(["--text", text, "--window", "8", "--val-fraction", "1e-17"], "t.txt", "characters are too few", "are needed");
    }

    [Theory]
    [InlineData("--hidden", "100000", "hidden_size=100000")]
    [InlineData("--layers", "100000", "--layers 100000: must be ≤ 1024")]
    [InlineData("--seq-len", "2000000000", "--seq-len 2000000000: must be ≤")]
    [InlineData("--train-samples", "2000000000", "--train-samples 2000000000: must be ≤")]
    [InlineData("--batch-size", "2000000000", "--batch-size 2000000000: must be ≤")]
    [InlineData("--hidden", "2000000000", "--hidden 2000000000: must be ≤")]
    public void Size_BeyondItsBound_IsRefused(string option, string value, string fragment) =>
        TrainFails([option, value], fragment);

    [Fact]
    public void EmbeddingDim_BeyondItsBound_IsRefused() =>
        TrainFails(["--task", "copy", "--embedding-dim", "2000000000"], "--embedding-dim 2000000000: must be ≤");

    [Fact]
    public void LongSequence_BeyondMemory_NamesTheBytes() =>
        TrainFails(["--seq-len", "1000000"], "would need about", "bytes", "1000000 steps");

    [Fact]
    public void Resume_ConfigWithHugeHiddenSize_IsRefused()
    {
        string run = At("small");
        Ok("train", "--device", "cpu", "--quiet", "--hidden", "4", "--layers", "1", "--steps", "2", "--out", run);
        string config = Path.Combine(run, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["model"]!["hidden_size"] = 2000000000;
        File.WriteAllText(config, json.ToJsonString());
        var (code, _, stderr) = Run("train", "--resume", run, "--quiet");
        Assert.True(code == Program.BadInput, stderr);
        Assert.Contains("hidden_size=2000000000", stderr, StringComparison.Ordinal);
        Assert.Contains("exceeds the largest size", stderr, StringComparison.Ordinal);
    }
}
