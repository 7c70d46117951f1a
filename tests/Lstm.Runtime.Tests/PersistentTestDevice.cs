using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Tests;

/// <summary>
/// ILGPU's CPU accelerator with four multiprocessors of two warps of four lanes, opened once for
/// every test of the persistent loops (its kernels compile once). Tests run one at a time; each
/// reads the launch counters of <c>PersistentLaunches</c> as differences and puts back any
/// setting it changes.
/// </summary>
internal static class PersistentTestDevice
{
    private static readonly Lazy<ComputeDevice> Device = new(() => ComputeDevice.OpenIlgpuCpu(4, 2, 4));

    /// <summary>The shared device.</summary>
    public static ComputeDevice Get() => Device.Value;
}
