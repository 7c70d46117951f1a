using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;

namespace Lstm.Cli.Tests;

/// <summary>
/// Bad CSVs, bad options and missing files: one clear message (file, line, column or option, and
/// the value), exit code 2, and no run folder or checkpoint left behind.
/// </summary>
public sealed class BadInputTests : CliRunner
{
    private const string Header = "day,temperature,humidity";

    private string Csv(string name, params string[] lines)
    {
        string path = At(name);
        File.WriteAllText(path, string.Join('\n', lines) + (lines.Length > 0 ? "\n" : ""));
        return path;
    }

    private static string[] Rows(int count) => Enumerable.Range(0, count).Select(i => $"{i},{10 + i % 7}.5,{50 + i % 5}").ToArray();

    /// <summary>Runs <c>lstm train</c> into a fresh folder and checks the failure: exit 2, one line on stderr with every fragment, no folder.</summary>
    private void TrainFails(string[] args, params string[] fragments)
    {
        string run = At("run");
        var (code, stdout, stderr) = Run(["train", "--device", "cpu", "--out", run, .. args]);
        Fails(code, stdout, stderr, fragments);
        Assert.False(Directory.Exists(run), "a run that fails on bad input leaves no folder");
    }

    [Theory]
    [InlineData("--seq-len", "2e9", "whole number")]
    [InlineData("--train-samples", "2e9", "whole number")]
    [InlineData("--lr", "fast", "a number")]
    public void OptionValue_OfTheWrongType_IsOneLine(string option, string value, string fragment) =>
        TrainFails([option, value], $"{option} {value}", fragment);

    private static void Fails(int code, string stdout, string stderr, params string[] fragments)
    {
        Assert.True(code == Program.BadInput, $"exit {code}; stdout: {stdout}; stderr: {stderr}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one message expected: {stderr}");
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        foreach (var f in fragments)
            Assert.Contains(f, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Train_CsvWithMissingValue_NamesFileLineColumn()
    {
        var rows = Rows(60);
        rows[2] = "2,,51";
        string csv = Csv("gap.csv", [Header, .. rows]);
        TrainFails(["--csv", csv, "--target", "temperature", "--window", "5"], "gap.csv", "line 4", "column 2 'temperature'", "missing value");
    }

    [Fact]
    public void Train_CsvWithNonNumericValue_NamesTheValue()
    {
        var rows = Rows(60);
        rows[9] = "9,12.5,humid";
        string csv = Csv("text.csv", [Header, .. rows]);
        TrainFails(["--csv", csv, "--target", "temperature", "--features", "temperature,humidity", "--window", "5"], "text.csv", "line 11", "column 3 'humidity'", "'humid' is not a number");
    }

    [Fact]
    public void Train_CsvMissingValueDropped_Trains()
    {
        var rows = Rows(60);
        rows[2] = "2,,51";
        string csv = Csv("gap.csv", [Header, .. rows]);
        string run = At("dropped");
        var (code, stdout, stderr) = Run("train", "--device", "cpu", "--csv", csv, "--target", "temperature", "--window", "5", "--missing", "drop",
            "--steps", "3", "--hidden", "4", "--layers", "1", "--batch-size", "4", "--out", run);
        Assert.True(code == Program.Ok, stderr);
        Assert.Contains("59 rows", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_CsvUnknownColumn_ListsTheColumns()
    {
        string csv = Csv("ok.csv", [Header, .. Rows(60)]);
        TrainFails(["--csv", csv, "--target", "pressure", "--window", "5"], "ok.csv", "no column 'pressure'", "day, temperature, humidity");
    }

    [Fact]
    public void Train_CsvTooShortForTheWindow_SaysHowManyRowsAreNeeded()
    {
        string csv = Csv("short.csv", [Header, .. Rows(12)]);
        TrainFails(["--csv", csv, "--target", "temperature", "--window", "10", "--horizon", "2"], "short.csv", "12 data rows are too few", "window of 10", "horizon of 2", "rows are needed");
    }

    [Fact]
    public void Train_EmptyCsv_SaysItIsEmpty()
    {
        string csv = Csv("empty.csv");
        TrainFails(["--csv", csv, "--target", "temperature"], "empty.csv", "empty");
    }

    [Fact]
    public void Train_HeaderOnlyCsv_SaysThereAreNoRows()
    {
        string csv = Csv("header.csv", Header);
        TrainFails(["--csv", csv, "--target", "temperature"], "header.csv", "no data rows");
    }

    [Fact]
    public void Train_MissingFiles_NameTheOptionAndPath()
    {
        TrainFails(["--csv", At("absent.csv"), "--target", "x"], "--csv", "absent.csv", "no such file");
        TrainFails(["--text", At("absent.txt")], "--text", "absent.txt", "no such file");
    }

    [Fact]
    public void Train_TextTooShort_SaysHowManyCharactersAreNeeded()
    {
        string text = At("tiny.txt");
        File.WriteAllText(text, "hello world");
        TrainFails(["--text", text, "--window", "16"], "tiny.txt", "11 characters are too few", "windows of 16");
    }

    [Theory]
    [InlineData("--cell", "lstmm", "--cell lstmm", "expected lstm, gru, rnn-tanh or rnn-relu")]
    [InlineData("--task", "sorting", "--task sorting", "unknown task")]
    [InlineData("--batch-size", "0", "--batch-size 0", "must be ≥ 1")]
    [InlineData("--batch-size", "5000", "--batch-size 5000", "larger than the 2048 training samples")]
    [InlineData("--hidden", "-3", "--hidden -3", "must be ≥ 1")]
    [InlineData("--dropout", "1.5", "--dropout 1.5", "[0, 1)")]
    [InlineData("--optimizer", "lbfgs", "--optimizer lbfgs", "adam, adamw, sgd")]
    [InlineData("--schedule", "linear", "--schedule linear", "constant, cosine, step")]
    [InlineData("--lr", "-0.1", "--lr -0.1", "≥ 0")]
    [InlineData("--momentum", "0.9", "--momentum 0.9", "sgd only")]
    [InlineData("--embedding-dim", "8", "--embedding-dim 8", "only models of tokens")]
    [InlineData("--window", "8", "--window 8", "does not apply to a synthetic task")]
    [InlineData("--steps", "0", "--steps 0", "must be ≥ 1")]
    public void Train_BadOption_NamesOptionAndValue(string option, string value, string fragment1, string fragment2) =>
        TrainFails([option, value], fragment1, fragment2);

    [Fact]
    public void Train_ProjSizeWithGru_IsRefused() =>
        TrainFails(["--cell", "gru", "--proj-size", "4"], "--proj-size 4", "only an LSTM");

    [Fact]
    public void Train_TwoSources_AreRefused()
    {
        string csv = Csv("ok.csv", [Header, .. Rows(60)]);
        TrainFails(["--task", "sine", "--csv", csv, "--target", "temperature"], "give one of --task, --csv and --text");
    }

    [Fact]
    public void Train_CsvBadNormalizeMissingAndFraction_AreRefused()
    {
        string csv = Csv("ok.csv", [Header, .. Rows(60)]);
        TrainFails(["--csv", csv, "--target", "temperature", "--normalize", "minmax"], "--normalize minmax", "zscore or none");
        TrainFails(["--csv", csv, "--target", "temperature", "--missing", "guess"], "--missing guess", "fill-previous");
        TrainFails(["--csv", csv, "--target", "temperature", "--val-fraction", "1.5"], "--val-fraction 1.5", "between 0 and 1");
        TrainFails(["--csv", csv], "--target", "name one or more columns");
    }

    [Fact]
    public void Train_IntoANonEmptyFolder_IsRefusedAndLeavesItAlone()
    {
        string run = At("busy");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        var (code, stdout, stderr) = Run("train", "--device", "cpu", "--out", run);
        Fails(code, stdout, stderr, "--out", "not empty");
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(run).Select(Path.GetFileName));
    }

    [Fact]
    public void Train_UnknownDevice_LeavesNoFolder()
    {
        string run = At("run");
        var (code, stdout, stderr) = Run("train", "--device", "tpu:3", "--out", run);
        Fails(code, stdout, stderr, "tpu:3");
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Resume_WithChangedSettingsOrNoRun_IsRefused()
    {
        var (code, stdout, stderr) = Run("train", "--resume", At("nowhere"));
        Fails(code, stdout, stderr, "--resume", "nowhere", "no such folder");
        (code, stdout, stderr) = Run("train", "--resume", At("nowhere"), "--hidden", "16");
        Fails(code, stdout, stderr, "--resume", "--hidden", "cannot be changed");
    }

    [Fact]
    public void UseVerbs_OnMissingOrWrongRuns_AreRefused()
    {
        var (code, stdout, stderr) = Run("eval", "--run", At("none"), "--device", "cpu");
        Fails(code, stdout, stderr, "--run", "no such folder");
        (code, stdout, stderr) = Run("predict", "--run", At("none"), "--csv", At("x.csv"), "--device", "cpu");
        Fails(code, stdout, stderr, "--run", "no such folder");

        string run = At("sine");
        Ok("train", "--device", "cpu", "--seq-len", "6", "--train-samples", "32", "--val-samples", "8", "--hidden", "4", "--layers", "1", "--steps", "2",
            "--batch-size", "8", "--out", run);
        string csv = Csv("ok.csv", [Header, .. Rows(60)]);
        (code, stdout, stderr) = Run("predict", "--run", run, "--csv", csv, "--device", "cpu");
        Fails(code, stdout, stderr, "predict forecasts CSV columns", "sine task");
        (code, stdout, stderr) = Run("generate", "--run", run, "--device", "cpu");
        Fails(code, stdout, stderr, "generate needs a run trained on --text");
        (code, stdout, stderr) = Run("eval", "--run", run, "--device", "cpu", "--task", "adding");
        Fails(code, stdout, stderr, "2 values per step", "reads 1");
        (code, stdout, stderr) = Run("eval", "--run", run, "--device", "cpu", "--csv", csv, "--target", "humidity");
        Fails(code, stdout, stderr, "--target humidity", "the columns the run was trained on");
    }

    /// <summary>The b_tiny golden case split as <c>lstm run</c> reads it: a model file of the given tensors and an input file (x, h0, c0).</summary>
    private (string Model, string Input) RunFiles(string name, Func<SafeTensorsFile, SafeTensorsFile> model)
    {
        var golden = GoldenCase.Load("b_tiny");
        string modelPath = At(name), input = At("input.safetensors");
        model(new SafeTensorsFile(golden.ParamNames.Select(golden.File.Get))).Write(modelPath);
        new SafeTensorsFile(new[] { "x", "h0", "c0" }.Select(golden.File.Get)).Write(input);
        return (modelPath, input);
    }

    private void RunFails(string model, string input, params string[] fragments)
    {
        string output = At("y.safetensors");
        var (code, stdout, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "cpu");
        Fails(code, stdout, stderr, [model, .. fragments]);
        Assert.False(File.Exists(output), "a run refused leaves no output");
    }

    private static SafeTensorsFile With(SafeTensorsFile file, params SafeTensor[] extra) => new(file.Tensors.Concat(extra));

    [Fact]
    public void Run_ModelWithBadLayerNames_IsRefusedNamingTheTensor()
    {
        var (model, input) = RunFiles("overflow.safetensors", f => SafeTensorsBytes.Renamed(f, "weight_hh_l0", "weight_hh_l99999999999"));
        RunFails(model, input, "'weight_hh_l99999999999'", "layer index 99999999999 is too large");
        (model, input) = RunFiles("digit.safetensors", f => With(f, SafeTensor.FromFloat32("weight_ih_l\u0661", [1], [0f])));
        RunFails(model, input, "'weight_ih_l\u0661' is not a parameter of the network");
        (model, input) = RunFiles("grad.safetensors", f => With(SafeTensorsBytes.Renamed(f, "weight_ih_l0", "weight_ih_lO"), SafeTensor.FromFloat32("grad.weight_ih_l0", [16, 3], new float[48])));
        RunFails(model, input, "'weight_ih_l0' is missing");
    }

    [Fact]
    public void Run_ModelWithUnusedOrHostileTensors_IsRefused()
    {
        var (model, input) = RunFiles("extra.safetensors", f => With(f, SafeTensor.FromFloat32("junk", [1], [0f])));
        RunFails(model, input, "'junk' is not a parameter of the network");

        // A tensor of 2^62 F32 elements and no bytes: 2^64 bytes, which must not wrap to 0.
        string header = "{" + SafeTensorsBytes.Entry("huge", "F32", "[1073741824, 1073741824, 4]", 0, 0) + "}";
        File.WriteAllBytes(model, SafeTensorsBytes.Build(header, []));
        RunFails(model, input, "tensor 'huge'", "needs more than");

        File.WriteAllBytes(model, SafeTensorsBytes.Build("{" + SafeTensorsBytes.Entry("\\ud800", "F32", "[1]", 0, 4) + "}", new byte[4]));
        RunFails(model, input, "not valid Unicode");

        File.WriteAllBytes(model, SafeTensorsBytes.Build("{}", [], lengthField: 133UL << 20));
        RunFails(model, input, "over the limit of 104857600 bytes");
    }

    [Fact]
    public void UseVerbs_OnDamagedModelFiles_AreRefusedInOneLine()
    {
        string run = At("sine");
        Ok("train", "--device", "cpu", "--seq-len", "6", "--train-samples", "32", "--val-samples", "8", "--hidden", "4", "--layers", "1", "--steps", "2",
            "--batch-size", "8", "--out", run);
        string weights = Path.Combine(run, "model", "model.safetensors");
        byte[] good = File.ReadAllBytes(weights);
        var file = SafeTensorsFile.Parse(good);

        File.WriteAllBytes(weights, good[..^3]);
        var (code, stdout, stderr) = Run("eval", "--run", run, "--device", "cpu");
        Fails(code, stdout, stderr, "model.safetensors", "run past the end of the data");

        SafeTensorsBytes.Renamed(file, "lstm.weight_ih_l0", "lstm.weight_ih_l\u0661").Write(weights);
        (code, stdout, stderr) = Run("eval", "--run", run, "--device", "cpu");
        Fails(code, stdout, stderr, "model.safetensors", "'lstm.weight_ih_l\u0661' is not a parameter");

        With(file, SafeTensor.FromFloat32("grad.lstm.weight_ih_l0", [1], [0f])).Write(weights);
        (code, stdout, stderr) = Run("eval", "--run", run, "--device", "cpu");
        Fails(code, stdout, stderr, "model.safetensors", "'grad.lstm.weight_ih_l0' is not a parameter");

        File.WriteAllBytes(weights, good);
        Ok("eval", "--run", run, "--device", "cpu");
    }
}
