using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Cli;

/// <summary>Checks a device's kernels against the float64 host reference.</summary>
internal static class SelfTestCommand
{
    public static int Execute(SelfTestOptions options, TextWriter stdout)
    {
        using var device = ComputeDevice.Open(options.Device);
        stdout.WriteLine($"selftest on {device} (GEMM: {device.Gemm}, tile {device.Tile})");
        var checks = SelfTest.Run(device);
        foreach (var c in checks)
            stdout.WriteLine($"{(c.Passed ? "ok  " : "FAIL")} {c.DType,-8} {c.Name,-42} max |err| {c.MaxAbsError,10:E2}  (tolerance {c.Tolerance:E1})");
        foreach (var (dtype, worst) in SelfTest.WorstByDType(checks))
            stdout.WriteLine($"worst {dtype}: {worst.Name}: {worst.MaxAbsError:E2} ({worst.MaxAbsError / worst.Tolerance:P1} of its tolerance)");

        int failed = checks.Count(c => !c.Passed);
        stdout.WriteLine(failed == 0 ? $"selftest passed: {checks.Count} checks on {device.Name}" : $"selftest FAILED: {failed} of {checks.Count} checks on {device.Name}");
        return failed == 0 ? Program.Ok : Program.CheckFailed;
    }
}
