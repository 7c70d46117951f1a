using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The self-test on each GPU back end's devices: every CUDA device, and every OpenCL device
/// whether a GPU or a CPU (PoCL's CPU device runs the same OpenCL C). Every device present
/// already runs the whole suite through <see cref="TestDevices"/>; these name the back ends
/// explicitly so a machine without one shows a skip that says why, rather than silently testing less.
/// </summary>
public class GpuTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void SelfTest_PassesOnEveryDeviceOfTheBackend(DeviceKind kind)
    {
        var devices = TestDevices.OfKindOrSkip(kind);
        foreach (var device in devices)
        {
            var checks = SelfTest.Run(TestDevices.Get(device.Name));
            foreach (var c in checks)
                output.WriteLine($"{device.Name} {c.DType} {c.Name}: {c.MaxAbsError:E2} (tolerance {c.Tolerance:E1})");
            Assert.All(checks, c => Assert.True(c.Passed, $"{device.Name} {c.DType} {c.Name}: {c.MaxAbsError:E2} > {c.Tolerance:E1}"));
        }
    }
}
