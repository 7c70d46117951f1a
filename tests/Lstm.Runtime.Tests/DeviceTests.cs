using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

public class DeviceTests
{
    [Fact]
    public void Available_AlwaysListsIlgpuCpu_WithItsProperties()
    {
        var cpu = Assert.Single(ComputeDevice.Available(), d => d.Name == "ilgpu-cpu");
        Assert.Equal(DeviceKind.IlgpuCpu, cpu.Kind);
        Assert.True(cpu.WarpSize > 0);
        Assert.True(cpu.MaxGroupSize > 0);
        Assert.False(cpu.IsGpu);
        Assert.InRange(cpu.MemoryBytes, 1L << 20, 1L << 50);
    }

    [Fact]
    public void Available_ListsCpu_WithHostProperties()
    {
        var cpu = Assert.Single(ComputeDevice.Available(), d => d.Name == "cpu");
        Assert.Equal(DeviceKind.Cpu, cpu.Kind);
        Assert.False(cpu.IsGpu);
        Assert.False(string.IsNullOrWhiteSpace(cpu.Description));
        Assert.Equal(Environment.ProcessorCount, cpu.Multiprocessors);
        Assert.Contains(cpu.WarpSize, new[] { 1, 4, 8, 16 });
        Assert.InRange(cpu.MemoryBytes, 1L << 20, 1L << 50);
    }

    [Fact]
    public void Open_Cpu_HasNoIlgpuAccelerator_AndRejectsIlgpuGemmKernels()
    {
        using var cpu = ComputeDevice.Open("cpu");
        Assert.Equal("cpu", cpu.Name);
        Assert.False(cpu.IsIlgpu);
        Assert.Equal(GemmAlgorithm.Packed, cpu.Gemm);
        var e = Assert.Throws<LstmException>(() => cpu.Accelerator);
        Assert.Contains("'cpu'", e.Message, StringComparison.Ordinal);
        var tiled = Assert.Throws<LstmException>(() => ComputeDevice.Open("cpu", GemmAlgorithm.Tiled));
        Assert.Contains("Tiled", tiled.Message, StringComparison.Ordinal);
        var packed = Assert.Throws<LstmException>(() => ComputeDevice.Open("ilgpu-cpu", GemmAlgorithm.Packed));
        Assert.Contains("Packed", packed.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("gpu:0")]
    public void Open_UnknownName_NamesTheDeviceAndTheValidNames(string name)
    {
        var e = Assert.Throws<LstmException>(() => ComputeDevice.Open(name));
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("ilgpu-cpu", e.Message, StringComparison.Ordinal);
        Assert.Contains("cpu,", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_AbsentDevice_SaysItIsNotPresent()
    {
        var e = Assert.Throws<LstmException>(() => ComputeDevice.Open("cuda:57"));
        Assert.Contains("not present", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_Auto_PrefersAGpuElseCpu()
    {
        using var auto = ComputeDevice.Open("auto");
        var expected = TestDevices.Available.FirstOrDefault(d => d.Kind == DeviceKind.Cuda)
            ?? TestDevices.Available.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL && d.IsGpu)
            ?? TestDevices.Available.First(d => d.Kind == DeviceKind.Cpu);
        Assert.Equal(expected.Name, auto.Name);
    }

    [Theory]
    [InlineData("ilgpu-cpu", "ilgpu-cpu")]
    [InlineData("cpu", "cpu")]
    [InlineData("cpu", "ilgpu-cpu")]
    public void TwoDevices_InOneProcess_ComputeIndependently(string first, string second)
    {
        using var a = ComputeDevice.Open(first);
        using var b = ComputeDevice.Open(second);
        using var la = new LSTM<double>(a, new LSTMOptions(2, 3), seed: 4);
        using var lb = new LSTM<double>(b, new LSTMOptions(2, 3), seed: 4);
        var xv = Numerics.Uniform(new Random(1), 4 * 2 * 2);
        using var xa = Tensor<double>.FromArray(a, xv, 4, 2, 2);
        using var xb = Tensor<double>.FromArray(b, xv, 4, 2, 2);
        using var ra = la.Forward(xa);
        using var rb = lb.Forward(xb);
        if (first == second)
            Assert.Equal(ra.Output.ToArray(), rb.Output.ToArray());
        else
            Assert.True(Numerics.MaxAbsError(ra.Output.ToArray(), rb.Output.ToArray()) <= 1e-14, "the host backend and ILGPU's kernels differ beyond rounding");
        var e = Assert.Throws<LstmException>(() => la.Forward(xb));
        Assert.Contains("device", e.Message, StringComparison.Ordinal);
    }
}
