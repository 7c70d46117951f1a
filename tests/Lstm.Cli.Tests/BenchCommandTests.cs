using System.Globalization;
using System.Text.Json;

namespace Lstm.Cli.Tests;

public sealed class BenchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-bench-").FullName;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The table rows: lines that start with five integers.</summary>
    private static List<string[]> Rows(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 8 && f.Take(5).All(v => int.TryParse(v, CultureInfo.InvariantCulture, out _)))
            .ToList();

    [Fact]
    public void Bench_TinyShapesOnIlgpuCpu_PrintsTableAndWritesMatchingJsonLines()
    {
        string json = Path.Combine(_dir, "ours.jsonl");
        var (code, stdout, stderr) = Run(
            "bench", "--device", "ilgpu-cpu", "--shapes", "2,3,4,5,1", "3,2,5,7,2", "--repeats", "1", "--warmup", "0", "--json", json);
        Assert.True(code == Program.Ok, stderr);

        Assert.Contains("batch  seq    in   hid  L      mode        ms   GFLOP/s", stdout, StringComparison.Ordinal);
        // One comment line per shape names the GEMM kernels (ilgpu-cpu runs RowDot); it is not a table row.
        Assert.Contains("# gemm 2,3,4,5,1: input projection RowDot (6x20x4), recurrent RowDot (2x20x5)", stdout, StringComparison.Ordinal);
        Assert.Contains("# gemm 3,2,5,7,2: input projection RowDot (6x28x5), recurrent RowDot (3x28x7)", stdout, StringComparison.Ordinal);
        // And one names how the forward time loop runs: one layer as one persistent launch
        // (ilgpu-cpu's single group is always resident); stacked layers that can all take it run
        // layer after layer, each as one persistent launch, instead of the wavefront.
        Assert.Contains("# loop 2,3,4,5,1: persistent", stdout, StringComparison.Ordinal);
        Assert.Contains("# loop 3,2,5,7,2: persistent", stdout, StringComparison.Ordinal);
        var rows = Rows(stdout);
        string[][] expected = [["2", "3", "4", "5", "1", "inference"], ["2", "3", "4", "5", "1", "training"], ["3", "2", "5", "7", "2", "inference"], ["3", "2", "5", "7", "2", "training"]];
        Assert.Equal(expected.Length, rows.Count);
        for (int r = 0; r < rows.Count; r++)
        {
            Assert.Equal(expected[r], rows[r].Take(6));
            Assert.True(double.Parse(rows[r][6], CultureInfo.InvariantCulture) > 0, "ms must be positive");
            Assert.True(double.Parse(rows[r][7], CultureInfo.InvariantCulture) >= 0, "GFLOP/s must not be negative");
        }

        // One JSON object per line with torch_lstm_bench.py's field names, and no temporary file left.
        string[] lines = File.ReadAllLines(json);
        Assert.Equal(expected.Length, lines.Length);
        for (int r = 0; r < lines.Length; r++)
        {
            using var doc = JsonDocument.Parse(lines[r]);
            var o = doc.RootElement;
            Assert.Equal("ilgpu-lstm", o.GetProperty("peer").GetString());
            Assert.Equal("ilgpu-cpu", o.GetProperty("backend").GetString());
            Assert.Equal("float32", o.GetProperty("dtype").GetString());
            string[] fields = ["batch", "seq", "input", "hidden", "layers"];
            for (int f = 0; f < fields.Length; f++)
                Assert.Equal(int.Parse(expected[r][f], CultureInfo.InvariantCulture), o.GetProperty(fields[f]).GetInt32());
            Assert.Equal(expected[r][5], o.GetProperty("mode").GetString());
            Assert.True(o.GetProperty("median_ms").GetDouble() > 0);
            Assert.True(o.GetProperty("gflops").GetDouble() >= 0);
            Assert.Equal(1, o.GetProperty("repeats").GetInt32());
        }

        Assert.Equal([json], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Bench_InferenceMode_TimesOnlyInference()
    {
        var (code, stdout, stderr) = Run("bench", "--device", "ilgpu-cpu", "--shapes", "1,1,1,1,1", "--mode", "inference", "--repeats", "1", "--warmup", "0");
        Assert.True(code == Program.Ok, stderr);
        var rows = Rows(stdout);
        Assert.Single(rows);
        Assert.Equal("inference", rows[0][5]);
    }

    [Theory]
    [InlineData("2,3,x,5,1")]
    [InlineData("2,3,4,5")]
    [InlineData("2,0,4,5,1")]
    public void Bench_BadShape_NamesItAndWritesNothing(string shape)
    {
        string json = Path.Combine(_dir, "ours.jsonl");
        var (code, _, stderr) = Run("bench", "--device", "ilgpu-cpu", "--shapes", shape, "--repeats", "1", "--json", json);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains($"'{shape}'", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Bench_ZeroRepeats_SaysSo()
    {
        var (code, _, stderr) = Run("bench", "--device", "ilgpu-cpu", "--shapes", "1,1,1,1,1", "--repeats", "0");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--repeats 0", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_JsonInMissingDirectory_NamesItAndExitsNonZero()
    {
        string json = Path.Combine(_dir, "no-such-dir", "ours.jsonl");
        var (code, _, stderr) = Run("bench", "--device", "ilgpu-cpu", "--shapes", "1,1,1,1,1", "--repeats", "1", "--warmup", "0", "--json", json);
        Assert.Equal(Program.BadInput, code);
        Assert.Contains(json, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_Gemm_TimesEachProduct_NamesItsKernel_AndWritesTorchGemmFields()
    {
        string json = Path.Combine(_dir, "gemm.jsonl");
        var (code, stdout, stderr) = Run(
            "bench", "--gemm", "--device", "ilgpu-cpu", "--gemm-shapes", "3,5,7", "4,2,6,1,1", "--repeats", "1", "--warmup", "0", "--json", json);
        Assert.True(code == Program.Ok, stderr);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 8 && int.TryParse(f[0], CultureInfo.InvariantCulture, out _))
            .ToList();
        Assert.Equal([["3", "5", "7", "0", "0", "RowDot"], ["4", "2", "6", "1", "1", "RowDot"]], rows.Select(r => r.Take(6).ToArray()));
        Assert.All(rows, r => Assert.True(double.Parse(r[6], CultureInfo.InvariantCulture) > 0, string.Join(' ', r)));

        string[] lines = File.ReadAllLines(json);
        Assert.Equal(2, lines.Length);
        using var doc = JsonDocument.Parse(lines[1]);
        var o = doc.RootElement;
        Assert.Equal("ilgpu-lstm", o.GetProperty("peer").GetString());
        Assert.Equal("fp32", o.GetProperty("precision").GetString());
        Assert.Equal([4, 2, 6, 1, 1], new[] { "m", "n", "k", "transa", "transb" }.Select(f => o.GetProperty(f).GetInt32()));
        Assert.Equal("RowDot", o.GetProperty("kernel").GetString());
        Assert.True(o.GetProperty("median_ms").GetDouble() > 0);
        Assert.Equal([json], Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData("3,5", "'3,5'")]
    [InlineData("3,5,0", "'3,5,0'")]
    [InlineData("3,5,7,2,0", "'3,5,7,2,0'")]
    public void Bench_Gemm_BadShape_NamesIt(string shape, string named)
    {
        var (code, _, stderr) = Run("bench", "--gemm", "--device", "ilgpu-cpu", "--gemm-shapes", shape, "--repeats", "1");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_GemmShapesWithoutGemm_SaysSo()
    {
        var (code, _, stderr) = Run("bench", "--device", "ilgpu-cpu", "--gemm-shapes", "3,5,7");
        Assert.Equal(Program.BadInput, code);
        Assert.Contains("--gemm-shapes: needs --gemm", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void GemmShapes_OfAnLstm_AreItsFourLayerZeroProducts()
    {
        var shapes = Lstm.Runtime.Diagnostics.GemmBenchShape.OfLstm(new(5, 50, 10, 20, 2)).Select(s => s.ToString());
        Assert.Equal(["250,80,10,0,1", "5,80,20,0,1", "80,10,250,1,0", "250,10,80,0,0"], shapes);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
