using Lstm.Runtime;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Tests.Shared;

/// <summary>
/// The devices tests run on: the host backend (<c>cpu</c>) and ILGPU's CPU accelerator always,
/// and every OpenCL and CUDA device present. Devices are opened once per test run and shared (their kernels compile once: on OpenCL that
/// takes seconds a device and element type); tests run one at a time, so no two use one at once.
/// </summary>
public static class TestDevices
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, ComputeDevice> Open = [];
    private static IReadOnlyList<DeviceInfo>? _available;

    /// <summary>Every device present on this machine.</summary>
    public static IReadOnlyList<DeviceInfo> Available
    {
        get
        {
            lock (Gate)
                return _available ??= ComputeDevice.Available();
        }
    }

    /// <summary>Names of the devices to test: cpu, ilgpu-cpu and each OpenCL and CUDA device present (<see cref="ComputeDevice.Available"/> lists them all).</summary>
    public static IEnumerable<object[]> Names() => Available.Select(d => new object[] { d.Name });

    /// <summary>The shared, open device of that name.</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    public static ComputeDevice Get(string name) => Get(name, null);

    /// <summary>The shared, open device of that name with a given GEMM kernel.</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    /// <param name="gemm">The GEMM kernel, or null for the device's default.</param>
    public static ComputeDevice Get(string name, GemmAlgorithm? gemm) => Instance(name, gemm, GemmPrecision.Fp32, 0);

    /// <summary>The shared, open device of that name whose float32 products run at a given precision.</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    /// <param name="precision">The precision of its float32 products.</param>
    public static ComputeDevice Get(string name, GemmPrecision precision) => Instance(name, null, precision, 0);

    /// <summary>
    /// The shared device of that name opened a (<paramref name="copy"/> + 1)-th time: copy 0 is
    /// <see cref="Get(string)"/>, copy 1 a second context of the same device, and so on, for tests
    /// that place work on one device twice (each copy its own accelerator, streams and kernels).
    /// </summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    /// <param name="copy">Which open of it: 0, 1, ...</param>
    public static ComputeDevice Copy(string name, int copy) => Instance(name, null, GemmPrecision.Fp32, copy);

    private static ComputeDevice Instance(string name, GemmAlgorithm? gemm, GemmPrecision precision, int copy)
    {
        string key = $"{name}/{gemm?.ToString() ?? "default"}/{precision}/{copy}";
        lock (Gate)
        {
            if (!Open.TryGetValue(key, out var device))
            {
                device = ComputeDevice.Open(name, gemm, precision);
                Open[key] = device;
            }

            return device;
        }
    }

    /// <summary>The devices of a kind present on this machine, GPUs or not (an OpenCL CPU device runs the same kernels as an OpenCL GPU).</summary>
    /// <param name="kind">The kind.</param>
    public static IReadOnlyList<DeviceInfo> OfKind(DeviceKind kind) => Available.Where(d => d.Kind == kind).ToList();

    /// <summary>The reason a test of a back end's devices skips on this machine.</summary>
    /// <param name="kind">The kind.</param>
    public static string NoneOfKind(DeviceKind kind) => $"no {kind} device on this machine";

    /// <summary>The devices of a kind present; skips the calling test, saying so, where there are none.</summary>
    /// <param name="kind">The kind.</param>
    public static IReadOnlyList<DeviceInfo> OfKindOrSkip(DeviceKind kind)
    {
        var devices = OfKind(kind);
        Skip.If(devices.Count == 0, NoneOfKind(kind));
        return devices;
    }

    /// <summary>True when a device of that kind is present.</summary>
    /// <param name="kind">The kind.</param>
    public static bool Has(DeviceKind kind) => Available.Any(d => d.Kind == kind);
}
