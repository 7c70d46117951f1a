using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm bench</c>: the options as <see cref="BenchSettings"/>, then each shape timed by
/// <see cref="LstmBenchmark"/> (or, with <c>--gemm</c>, each product by <see cref="GemmBenchmark"/>)
/// and its row printed as soon as it is measured.
/// </summary>
internal static class BenchCommand
{
    public static int Execute(BenchOptions options, TextWriter stdout)
    {
        var settings = new BenchSettings
        {
            Device = options.Device,
            Precision = options.Precision,
            Modes = options.Mode switch
            {
                BenchModeOption.Inference => [LstmBenchMode.Inference],
                BenchModeOption.Training => [LstmBenchMode.Training],
                _ => [LstmBenchMode.Inference, LstmBenchMode.Training],
            },
            Repeats = options.Repeats,
            Warmup = options.Warmup,
            Gemm = options.Gemm,
            GemmShapes = options.GemmShapes.ToList(),
            Shapes = options.Shapes.ToList(),
            Json = options.Json,
        };
        var plan = settings.Resolve();
        using var device = ComputeDevice.Open(settings.Device, plan.Precision);
        if (settings.Gemm)
            return TimeGemms(device, plan, settings, stdout);
        stdout.WriteLine($"bench on {device.Name} ({device.Info.Description}), float32{BenchPlan.PrecisionNote(plan.Precision)}, {Environment.ProcessorCount} threads, " +
                         $"{settings.Warmup} warm-up (at least 1 s) + median of {settings.Repeats} repeats");
        var records = new List<LstmBenchRecord>();
        stdout.WriteLine(LstmBenchmark.FormatTable([]).TrimEnd('\n', '\r'));
        foreach (var shape in plan.Shapes)
        {
            // Which GEMM kernel the shape's two products run (a comment line, not a table row).
            stdout.WriteLine(BenchPlan.GemmLine(device, shape));
            using var bench = new LstmBenchmark(device, shape);
            stdout.WriteLine($"# loop {shape}: {bench.ForwardLoopPath()}");
            foreach (var mode in settings.Modes)
            {
                var record = bench.Measure(mode, settings.Warmup, settings.Repeats, settings.MinWarmupMs);
                records.Add(record);

                // One row as soon as it is measured: the table grows while the slow shapes run.
                string[] lines = LstmBenchmark.FormatTable([record]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                stdout.WriteLine(lines[1]);
            }
        }

        if (settings.Json is { } json)
        {
            LstmBenchmark.WriteJsonLines(json, records);
            stdout.WriteLine($"wrote {records.Count} records to {json}");
        }

        return Program.Ok;
    }

    private static int TimeGemms(ComputeDevice device, BenchPlan plan, BenchSettings settings, TextWriter stdout)
    {
        stdout.WriteLine($"gemm bench on {device.Name} ({device.Info.Description}), float32{BenchPlan.PrecisionNote(device.Precision)}, " +
                         $"{settings.Warmup} warm-up (at least 1 s) + median of {settings.Repeats} repeats");
        stdout.WriteLine(GemmBenchRecord.Header);
        var records = new List<GemmBenchRecord>();
        foreach (var shape in plan.Gemms)
        {
            var record = GemmBenchmark.Measure(device, shape, settings.Warmup, settings.Repeats, settings.MinWarmupMs);
            records.Add(record);
            stdout.WriteLine(record.FormatRow());
        }

        if (settings.Json is { } json)
        {
            LstmBenchmark.WriteJsonLines(json, records.Select(r => r.ToJson()));
            stdout.WriteLine($"wrote {records.Count} records to {json}");
        }

        return Program.Ok;
    }
}
