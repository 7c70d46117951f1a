using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Tests;

/// <summary>
/// How a persistent grid is sized from the device's limits (<see cref="PersistentLaunches"/>): the
/// dynamic shared memory a group may ask once its kernel opts in past the default 48 KB, and the
/// groups that are resident at once. Pure functions of the limits, checked on the host.
/// </summary>
public sealed class PersistentSizingTests
{
    private const int Default = 48 * 1024;

    [Theory]
    [InlineData(Default, 227 * 1024, 0, 227 * 1024)] // H100 / H200: the opt-in limit
    [InlineData(Default, 163 * 1024, 0, 163 * 1024)] // A100
    [InlineData(Default, 99 * 1024, 0, 99 * 1024)] // sm_86 / sm_89
    [InlineData(Default, 99 * 1024, 1024, 98 * 1024)] // static shared memory counts against the same limit
    [InlineData(Default, 0, 0, Default)] // the driver did not say: the default stands
    [InlineData(Default, 0, 512, Default - 512)]
    [InlineData(Default, 32 * 1024, 0, Default)] // never below the default
    [InlineData(Default, 99 * 1024, 200 * 1024, 0)] // never negative
    public void DynamicSharedLimit_IsTheOptInLimitLessStaticSharedMemory(int defaultPerGroup, int optIn, int staticBytes, int expected) =>
        Assert.Equal(expected, PersistentLaunches.DynamicSharedLimit(defaultPerGroup, optIn, staticBytes));

    [Theory]
    [InlineData(132, 1, 132)]
    [InlineData(132, 2, 264)]
    [InlineData(132, 0, 0)] // a group that fits no multiprocessor: no persistent grid
    [InlineData(0, 3, 3)] // at least one multiprocessor
    [InlineData(4, -1, 0)]
    public void ResidentGroups_IsOccupancyTimesMultiprocessors(int sms, int perSm, long expected) =>
        Assert.Equal(expected, PersistentLaunches.ResidentGroups(sms, perSm));

    /// <summary>
    /// An LSTM of H = 1024 on 132 multiprocessors: 8 units a group need 4·8·1024 floats of W_hh,
    /// 128 KB, past the default 48 KB and within the opt-in limit of a Hopper GPU, so the forward
    /// loop is persistent there once the kernel opts in, and not on a device that stops at 48 KB.
    /// </summary>
    [Fact]
    public void LargeHidden_FitsOnlyWithTheOptInLimit()
    {
        const int hidden = 1024, sms = 132, threads = 256;
        int units = (hidden + sms - 1) / sms;
        long bytes = PersistentLstmKernels.SharedElements(hidden, units, threads) * sizeof(float);
        Assert.True(bytes > Default);
        Assert.True(bytes <= PersistentLaunches.DynamicSharedLimit(Default, 227 * 1024, 0));
        Assert.False(bytes <= PersistentLaunches.DynamicSharedLimit(Default, 0, 0));
    }

    [Fact]
    public void CpuAccelerator_AsksNoOptIn_AndHoldsOneGroupAMultiprocessor()
    {
        using var device = ComputeDevice.OpenIlgpuCpu(4, 2, 4);
        var launches = PersistentLaunches.For(device.Accelerator);
        Assert.True(PersistentLaunches.Supports(device.Accelerator));
        var kernel = device.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>>((i, v) => v[i] = i).GetKernel();
        Assert.Equal(device.Accelerator.MaxSharedMemoryPerGroup, launches.SharedLimit(kernel));
        Assert.Equal(device.Accelerator.NumMultiprocessors, launches.ResidentGroups(kernel, 8, 1 << 20));
    }
}
