using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The self-test on each GPU kind. Every device present already runs the whole suite through
/// <see cref="TestDevices"/>; these name the GPU kinds explicitly so a machine without one shows
/// a skip that says why, rather than silently testing less.
/// </summary>
public class GpuTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void SelfTest_PassesOnEveryGpu(DeviceKind kind)
    {
        var gpus = TestDevices.Available.Where(d => d.Kind == kind && d.IsGpu).ToList();
        Skip.If(gpus.Count == 0, $"no {kind} GPU on this machine");
        foreach (var gpu in gpus)
        {
            var checks = SelfTest.Run(TestDevices.Get(gpu.Name));
            foreach (var c in checks)
                output.WriteLine($"{gpu.Name} {c.DType} {c.Name}: {c.MaxAbsError:E2} (tolerance {c.Tolerance:E1})");
            Assert.All(checks, c => Assert.True(c.Passed, $"{gpu.Name} {c.DType} {c.Name}: {c.MaxAbsError:E2} > {c.Tolerance:E1}"));
        }
    }
}
