using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Cli;

/// <summary>Times LSTM inference and training steps on a device, as torch_lstm_bench.py times PyTorch's (or, with <c>--gemm</c>, matrix products as torch_gemm_bench.py times <c>torch.matmul</c>).</summary>
internal static class BenchCommand
{
    public static int Execute(BenchOptions options, TextWriter stdout)
    {
        if (options.Repeats < 1)
            throw new LstmException($"--repeats {options.Repeats}: must be at least 1");
        if (options.Warmup < 0)
            throw new LstmException($"--warmup {options.Warmup}: must be 0 or more");
        var shapes = options.Shapes.Any() ? options.Shapes.Select(LstmBenchShape.Parse).ToList() : LstmBenchShape.Defaults.ToList();
        LstmBenchMode[] modes = options.Mode switch
        {
            BenchModeOption.Inference => [LstmBenchMode.Inference],
            BenchModeOption.Training => [LstmBenchMode.Training],
            _ => [LstmBenchMode.Inference, LstmBenchMode.Training],
        };

        if (options.GemmShapes.Any() && !options.Gemm)
            throw new LstmException("--gemm-shapes: needs --gemm");
        var gemms = options.Gemm ? GemmShapes(options, shapes) : [];
        var precision = PrecisionOption.Parse(options.Precision);
        using var device = ComputeDevice.Open(options.Device, precision);
        if (options.Gemm)
            return TimeGemms(device, gemms, options, stdout);
        stdout.WriteLine($"bench on {device.Name} ({device.Info.Description}), float32{PrecisionNote(precision)}, {Environment.ProcessorCount} threads, " +
                         $"{options.Warmup} warm-up (at least 1 s) + median of {options.Repeats} repeats");
        var records = new List<LstmBenchRecord>();
        stdout.WriteLine(LstmBenchmark.FormatTable([]).TrimEnd('\n', '\r'));
        foreach (var shape in shapes)
        {
            // Which GEMM kernel the shape's two products run (a comment line, not a table row).
            stdout.WriteLine(GemmLine(device, shape));
            using var bench = new LstmBenchmark(device, shape);
            foreach (var mode in modes)
            {
                var record = bench.Measure(mode, options.Warmup, options.Repeats, options.Warmup > 0 ? 1000 : 0);
                records.Add(record);

                // One row as soon as it is measured: the table grows while the slow shapes run.
                string[] lines = LstmBenchmark.FormatTable([record]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                stdout.WriteLine(lines[1]);
            }
        }

        if (options.Json is { } json)
        {
            LstmBenchmark.WriteJsonLines(json, records);
            stdout.WriteLine($"wrote {records.Count} records to {json}");
        }

        return Program.Ok;
    }

    /// <summary>" with tf32 products" and the like; nothing for fp32.</summary>
    private static string PrecisionNote(GemmPrecision precision) =>
        precision == GemmPrecision.Fp32 ? "" : $" with {PrecisionNames.Name(precision)} products";

    /// <summary>The products <c>--gemm</c> times: <c>--gemm-shapes</c>, else those of each LSTM shape and 4096³, each once.</summary>
    private static List<GemmBenchShape> GemmShapes(BenchOptions options, IEnumerable<LstmBenchShape> lstms) =>
        options.GemmShapes.Any()
            ? options.GemmShapes.Select(GemmBenchShape.Parse).ToList()
            : lstms.SelectMany(GemmBenchShape.OfLstm).Append(GemmBenchShape.Square4096).Distinct().ToList();

    private static int TimeGemms(ComputeDevice device, List<GemmBenchShape> gemms, BenchOptions options, TextWriter stdout)
    {
        stdout.WriteLine($"gemm bench on {device.Name} ({device.Info.Description}), float32{PrecisionNote(device.Precision)}, " +
                         $"{options.Warmup} warm-up (at least 1 s) + median of {options.Repeats} repeats");
        stdout.WriteLine(GemmBenchRecord.Header);
        var records = new List<GemmBenchRecord>();
        foreach (var shape in gemms)
        {
            var record = GemmBenchmark.Measure(device, shape, options.Warmup, options.Repeats, options.Warmup > 0 ? 1000 : 0);
            records.Add(record);
            stdout.WriteLine(record.FormatRow());
        }

        if (options.Json is { } json)
        {
            LstmBenchmark.WriteJsonLines(json, records.Select(r => r.ToJson()));
            stdout.WriteLine($"wrote {records.Count} records to {json}");
        }

        return Program.Ok;
    }

    /// <summary>
    /// <c># gemm B,T,I,H,L: input projection KERNEL (M×N×K), recurrent KERNEL (M×N×K)</c>: the
    /// float32 kernels of the input projection over all steps, [T·B, 4H] = x·W_ihᵀ (layer 0; the
    /// layers above run the same kernel, K = H), and of one step's recurrent product,
    /// [B, 4H] = h·W_hhᵀ.
    /// </summary>
    internal static string GemmLine(ComputeDevice device, LstmBenchShape shape)
    {
        int gates = 4 * shape.Hidden;
        var input = GemmShape.Dense(shape.Batch * shape.Seq, gates, shape.Input, false, true);
        var recurrent = GemmShape.Dense(shape.Batch, gates, shape.Hidden, false, true);
        return $"# gemm {shape}: input projection {device.GemmKernelFor(input)} ({input.M}x{input.N}x{input.K}), " +
               $"recurrent {device.GemmKernelFor(recurrent)} ({recurrent.M}x{recurrent.N}x{recurrent.K})";
    }
}
