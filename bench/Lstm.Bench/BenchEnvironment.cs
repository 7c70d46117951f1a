using Lstm.Runtime;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Bench;

/// <summary>
/// What the benchmarks read from the environment (BenchmarkDotNet's child processes inherit it):
/// <c>LSTM_BENCH_DEVICE</c>, the device our side runs on (any name <c>ComputeDevice.Open</c> takes:
/// <c>cpu</c>, <c>cuda:0</c>, <c>ilgpu-cpu</c>, ...; default <c>cpu</c>), and
/// <c>LSTM_BENCH_SHAPES</c>, space-separated <c>batch,seq,input,hidden,layers</c> shapes instead of
/// the five defaults (a tiny one checks the harness on the slow <c>ilgpu-cpu</c>), and
/// <c>LSTM_BENCH_PRECISION</c>, space-separated GEMM precisions our device is opened at
/// (<c>fp32</c>, <c>tf32</c>, <c>3xtf32</c>, <c>bf16</c>; default <c>fp32</c>), each a value of the
/// <c>Precision</c> parameter.
/// </summary>
public static class BenchEnvironment
{
    /// <summary>The device variable.</summary>
    public const string DeviceVariable = "LSTM_BENCH_DEVICE";

    /// <summary>The shapes variable.</summary>
    public const string ShapesVariable = "LSTM_BENCH_SHAPES";

    /// <summary>The precision variable.</summary>
    public const string PrecisionVariable = "LSTM_BENCH_PRECISION";

    /// <summary>The device name when the variable is unset.</summary>
    public const string DefaultDevice = "cpu";

    /// <summary>The device name to open.</summary>
    public static string DeviceName =>
        Environment.GetEnvironmentVariable(DeviceVariable) is { Length: > 0 } name ? name.Trim() : DefaultDevice;

    /// <summary>The single value of the <c>Device</c> parameter.</summary>
    public static IEnumerable<string> DeviceNames() => [DeviceName];

    /// <summary>The values of the <c>Precision</c> parameter: <c>LSTM_BENCH_PRECISION</c>'s names, else <c>fp32</c>.</summary>
    public static IEnumerable<string> PrecisionNames() =>
        Environment.GetEnvironmentVariable(PrecisionVariable) is { Length: > 0 } text
            ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => Runtime.Devices.PrecisionNames.Name(Runtime.Devices.PrecisionNames.Parse(n)))
            : [Runtime.Devices.PrecisionNames.Name(GemmPrecision.Fp32)];

    /// <summary>The LSTM shapes: <c>LSTM_BENCH_SHAPES</c>, else <see cref="LstmBenchShape.Defaults"/>.</summary>
    public static IReadOnlyList<LstmBenchShape> Shapes =>
        Environment.GetEnvironmentVariable(ShapesVariable) is { Length: > 0 } text
            ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(LstmBenchShape.Parse).ToList()
            : LstmBenchShape.Defaults;
}
