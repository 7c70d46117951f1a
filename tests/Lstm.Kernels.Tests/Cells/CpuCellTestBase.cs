using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>What the <c>cpu</c> device's cell tests share: the device and random cell inputs.</summary>
public abstract class CpuCellTestBase
{
    protected static IDeviceOps<T> Ops<T>() where T : unmanaged => TestDevices.Get(ComputeDevice.CpuName).Ops<T>();

    /// <summary>
    /// Random cell inputs as <typeparamref name="T"/> holds them: xproj and hproj [B, G], both
    /// biases [G], the previous state [B, H] (<paramref name="state"/> = B·H elements).
    /// </summary>
    protected static (double[] Xproj, double[] Hproj, double[] Bih, double[] Bhh, double[] Prev) CellInputs<T>(Random rng, int batch, int g, int state)
        where T : unmanaged => (
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * g, 3)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, g)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, g)),
            DeviceData.AsSeen<T>(Numerics.Uniform(rng, state)));

    protected static double Check(double[] expected, double[] actual, double tol, string what)
    {
        double err = Numerics.MaxAbsError(actual, expected);
        Assert.True(err <= tol, $"{what}: max |error| {err:E2} > {tol:E2}");
        return err;
    }
}
