using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Lstm.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-cli-").FullName;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Golden(string stem) => Path.Combine(GoldenCase.Directory, stem + ".safetensors");

    /// <summary>Splits a golden case into a model file (parameters) and an input file (x, h0, c0).</summary>
    private (string Model, string Input) Split(string stem)
    {
        var golden = SafeTensorsFile.Read(Golden(stem));
        var names = golden.Metadata["param_names"].Split(',');
        string model = Path.Combine(_dir, stem + ".model.safetensors");
        string input = Path.Combine(_dir, stem + ".input.safetensors");
        new SafeTensorsFile(names.Select(golden.Get)).Write(model);
        new SafeTensorsFile(new[] { "x", "h0", "c0" }.Where(golden.Contains).Select(golden.Get)).Write(input);
        return (model, input);
    }

    [Theory]
    [InlineData("a_seed_l2_bf", true, null)]
    [InlineData("e_nobias_l2", false, null)]
    [InlineData("g_seed_f64", true, null)]
    [InlineData("i_no_state_l2_bf", true, null)]
    [InlineData("c_bidir_l2_seqfirst", false, null)]
    [InlineData("d_proj8", false, null)]
    [InlineData("h1_gru", false, null)]
    [InlineData("h2_rnn_tanh", false, "rnn-tanh")]
    public void Run_GoldenCase_ReproducesPyTorchOutput(string stem, bool batchFirst, string? cell)
    {
        var (model, input) = Split(stem);
        string output = Path.Combine(_dir, "y.safetensors");
        var args = new List<string> { "run", "--model", model, "--input", input, "--output", output, "--device", "ilgpu-cpu" };
        if (batchFirst)
            args.Add("--batch-first");
        if (cell is not null)
            args.AddRange(["--cell", cell]);
        var (code, stdout, stderr) = Run(args.ToArray());
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote", stdout, StringComparison.Ordinal);
        var golden = SafeTensorsFile.Read(Golden(stem));
        var result = SafeTensorsFile.Read(output);
        double tol = golden.Metadata["dtype"] == "float64" ? 1e-12 : 1e-5;
        foreach (var name in new[] { "output", "h_n", "c_n" }.Where(golden.Contains))
        {
            Assert.Equal(golden.Get(name).Shape, result.Get(name).Shape);
            Assert.True(Numerics.MaxAbsError(result.Get(name).ToFloat64(), golden.Get(name).ToFloat64()) <= tol, name);
        }
    }

    [Fact]
    public void Run_RnnWithoutCell_AsksForTheNonlinearity()
    {
        var (model, input) = Split("h2_rnn_tanh");
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "ilgpu-cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("give --cell rnn-tanh or --cell rnn-relu", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Run_CellThatContradictsTheStateDict_SaysWhatItHolds()
    {
        var (model, input) = Split("b_tiny");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", Path.Combine(_dir, "y.safetensors"), "--device", "ilgpu-cpu", "--cell", "gru");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--cell gru", stderr, StringComparison.Ordinal);
        Assert.Contains("an LSTM", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Lengths_FromInputTensor_PadsAndKeepsFullRows()
    {
        // c: seq-first [7, 3, 16], bidirectional. Row 1 keeps all 7 steps, so it matches PyTorch's full run.
        var (model, input) = Split("c_bidir_l2_seqfirst");
        var file = SafeTensorsFile.Read(input);
        string withLengths = Path.Combine(_dir, "len.safetensors");
        new SafeTensorsFile(file.Tensors.Append(SafeTensor.FromFloat32("seq_lengths", [3], [3, 7, 0]))).Write(withLengths);
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", withLengths, "--output", output, "--device", "ilgpu-cpu", "--lengths", "seq_lengths");
        Assert.True(code == 0, stderr);
        var y = SafeTensorsFile.Read(output).Get("output").ToFloat64();
        var golden = SafeTensorsFile.Read(Golden("c_bidir_l2_seqfirst")).Get("output").ToFloat64();
        for (int t = 0; t < 7; t++)
        {
            for (int f = 0; f < 64; f++)
            {
                Assert.True(Math.Abs(y[(t * 3 + 1) * 64 + f] - golden[(t * 3 + 1) * 64 + f]) <= 1e-5);
                Assert.Equal(0.0, y[(t * 3 + 2) * 64 + f]);
                if (t >= 3)
                    Assert.Equal(0.0, y[(t * 3 + 0) * 64 + f]);
            }
        }
    }

    [Fact]
    public void Run_LengthOutsideRange_IsBadInput()
    {
        var (model, input) = Split("h1_gru");
        string lengths = Path.Combine(_dir, "lengths.safetensors");
        new SafeTensorsFile([SafeTensor.FromFloat32("lengths", [2], [9, 10])]).Write(lengths);
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "ilgpu-cpu", "--lengths", lengths);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("lengths[1] = 10 is outside [0, seq_len = 9]", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Run_MissingInputFile_NamesItAndWritesNothing()
    {
        var (model, _) = Split("b_tiny");
        string missing = Path.Combine(_dir, "nope.safetensors");
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", missing, "--output", output, "--device", "ilgpu-cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains(missing, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir, "y.safetensors*"));
    }

    [Fact]
    public void Run_WrongInputShape_NamesExpectedAndActualAndWritesNothing()
    {
        var (model, _) = Split("b_tiny");
        string input = Path.Combine(_dir, "bad.safetensors");
        new SafeTensorsFile([SafeTensor.FromFloat32("x", [1, 1, 5], new float[5])]).Write(input);
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "ilgpu-cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("'x'", stderr, StringComparison.Ordinal);
        Assert.Contains("[1, 1, 5]", stderr, StringComparison.Ordinal);
        Assert.Contains("input_size 3", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Run_WrongStateShape_NamesTensorAndShapes()
    {
        var (model, _) = Split("b_tiny");
        string input = Path.Combine(_dir, "bad-h0.safetensors");
        new SafeTensorsFile([SafeTensor.FromFloat32("x", [1, 1, 3], new float[3]), SafeTensor.FromFloat32("h0", [2, 1, 4], new float[8])]).Write(input);
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", Path.Combine(_dir, "y.safetensors"), "--device", "ilgpu-cpu");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("h0", stderr, StringComparison.Ordinal);
        Assert.Contains("[2, 1, 4]", stderr, StringComparison.Ordinal);
        Assert.Contains("[1, 1, 4]", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnknownDevice_SaysSoAndExitsNonZero()
    {
        var (model, input) = Split("b_tiny");
        string output = Path.Combine(_dir, "y.safetensors");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "quantum:0");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("unknown device 'quantum:0'", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Run_ExistingOutput_IsReplacedWhole()
    {
        var (model, input) = Split("b_tiny");
        string output = Path.Combine(_dir, "y.safetensors");
        File.WriteAllText(output, "old contents");
        var (code, _, stderr) = Run("run", "--model", model, "--input", input, "--output", output, "--device", "ilgpu-cpu");
        Assert.True(code == 0, stderr);
        Assert.Equal([1, 1, 4], SafeTensorsFile.Read(output).Get("output").Shape);
        Assert.Single(Directory.GetFiles(_dir, "y.safetensors*"));
    }

    [Fact]
    public void SelfTest_OnIlgpuCpu_Passes()
    {
        var (code, stdout, _) = Run("selftest", "--device", "ilgpu-cpu");
        Assert.Equal(0, code);
        Assert.Contains("selftest passed", stdout, StringComparison.Ordinal);
        Assert.Contains("worst float32", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SelfTest_OnCpu_Passes()
    {
        var (code, stdout, _) = Run("selftest", "--device", "cpu");
        Assert.Equal(0, code);
        Assert.Contains("selftest on cpu", stdout, StringComparison.Ordinal);
        Assert.Contains("selftest passed", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Devices_ListsCpuIlgpuCpuAndAuto()
    {
        var (code, stdout, _) = Run("devices");
        Assert.Equal(0, code);
        Assert.Contains("ilgpu-cpu", stdout, StringComparison.Ordinal);
        Assert.Contains("\ncpu ", stdout.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("auto = ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_FewSteps_PrintsFallingLossAndSavesPyTorchNames()
    {
        string save = Path.Combine(_dir, "model.safetensors");
        var (code, stdout, stderr) = Run("train", "--device", "ilgpu-cpu", "--steps", "30", "--log-every", "10", "--hidden", "8", "--layers", "1", "--seq-len", "10", "--save", save, "--out", Path.Combine(_dir, "run"));
        Assert.True(code == 0, stderr);
        var losses = stdout.Split('\n').Where(l => l.StartsWith("step", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, losses.Count);
        Assert.Contains("lstm.weight_ih_l0", SafeTensorsFile.Read(save).Tensors.Select(t => t.Name));
    }

    [Fact]
    public void Train_OnCpu_RunsTheSeedsDefaultTraining()
    {
        var (code, stdout, stderr) = Run("train", "--device", "cpu", "--steps", "200", "--log-every", "100", "--out", Path.Combine(_dir, "run"));
        Assert.True(code == 0, stderr);
        Assert.Contains("on cpu", stdout, StringComparison.Ordinal);
        var losses = stdout.Split('\n').Where(l => l.StartsWith("step", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, losses.Count);
        foreach (string line in losses)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            double validation = double.Parse(words[Array.IndexOf(words, "val") + 2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(validation) && validation >= 0, line);
        }
    }

    [Fact]
    public void Train_BadOption_ExitsNonZeroWithMessage()
    {
        var (code, _, stderr) = Run("train", "--device", "ilgpu-cpu", "--batch-size", "0");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("batch", stderr, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
