using System.Globalization;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Lstm.Kernels;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Cpu;
using Lstm.Runtime.Backends.Ilgpu;

namespace Lstm.Runtime.Devices;

/// <summary>What runs a device's kernels.</summary>
public enum DeviceKind
{
    /// <summary>An NVIDIA GPU through CUDA (PTX JIT-compiled by the driver).</summary>
    Cuda,

    /// <summary>An OpenCL device (AMD, Intel and other GPUs).</summary>
    OpenCL,

    /// <summary>ILGPU's CPU accelerator: a thread-per-lane simulator of the GPU kernels, for checking them without a GPU.</summary>
    IlgpuCpu,

    /// <summary>The host backend: vectorized host code on all cores, for real work on a machine without a GPU.</summary>
    Cpu,
}

/// <summary>A device that is present on this machine.</summary>
/// <param name="Name">The name to open it by: <c>cuda:0</c>, <c>opencl:1</c>, <c>cpu</c>, <c>ilgpu-cpu</c>.</param>
/// <param name="Kind">What runs its kernels.</param>
/// <param name="Description">The driver's name for it (for <c>cpu</c>, the processor's model name).</param>
/// <param name="MemoryBytes">Device memory in bytes (host memory for <c>cpu</c> and <c>ilgpu-cpu</c>).</param>
/// <param name="WarpSize">Threads per warp (wavefront, sub-group); for <c>cpu</c>, the vector width in floats.</param>
/// <param name="Multiprocessors">Streaming multiprocessors (compute units); for <c>cpu</c>, the cores.</param>
/// <param name="MaxGroupSize">Most threads in one group; for <c>cpu</c>, the cores that share one operation.</param>
/// <param name="IsGpu">True for a GPU (what <c>auto</c> prefers).</param>
public sealed record DeviceInfo(
    string Name, DeviceKind Kind, string Description, long MemoryBytes, int WarpSize, int Multiprocessors, int MaxGroupSize, bool IsGpu);

/// <summary>
/// One compute device, opened by name, with its kernels loaded. Devices are passed explicitly to
/// everything that computes: there is no global device, so work can be spread over several.
/// </summary>
/// <remarks>
/// Names: <c>auto</c> (the first CUDA device, else the first OpenCL GPU, else <c>cpu</c>),
/// <c>cuda</c> or <c>cuda:N</c>, <c>opencl</c> or <c>opencl:N</c>, <c>cpu</c> (the host backend),
/// <c>ilgpu-cpu</c>. A device is backed either by an ILGPU accelerator (CUDA, OpenCL,
/// <c>ilgpu-cpu</c>) or by the host backend (<c>cpu</c>), which has no ILGPU context at all.
/// </remarks>
public sealed class ComputeDevice : IDisposable
{
    /// <summary>The names accepted besides the listed devices.</summary>
    public const string NameHelp = "auto, cuda[:N], opencl[:N], cpu, ilgpu-cpu";

    /// <summary>The name of the host backend.</summary>
    public const string CpuName = "cpu";

    /// <summary>The name that picks the best device present (the default of every verb that opens one).</summary>
    public const string Auto = "auto";

    private readonly Context? _context;
    private readonly Accelerator? _accelerator;
    private readonly Lazy<IDeviceOps<float>> _float32;
    private readonly Lazy<IDeviceOps<double>> _float64;
    private readonly List<Lane> _lanes = [];
    private readonly Func<Lane> _newLane;

    private ComputeDevice(Context context, Accelerator accelerator, DeviceInfo info, GemmAlgorithm gemm, int tile, GemmPrecision precision)
    {
        _context = context;
        _accelerator = accelerator;
        Info = info;
        Gemm = gemm;
        Tile = tile;
        Precision = precision;
        int threads = MaxThreads(info, accelerator);
        _float32 = new Lazy<IDeviceOps<float>>(() => new IlgpuOps<float, F32Ops>(accelerator, gemm, tile, threads, precision));
        _float64 = new Lazy<IDeviceOps<double>>(() => new IlgpuOps<double, F64Ops>(accelerator, gemm, tile, threads));
        _newLane = () =>
        {
            var stream = accelerator.CreateStream();
            return new Lane(
                stream,
                new Lazy<IDeviceOps<float>>(() => new IlgpuOps<float, F32Ops>(accelerator, stream, gemm, tile, threads, precision)),
                new Lazy<IDeviceOps<double>>(() => new IlgpuOps<double, F64Ops>(accelerator, stream, gemm, tile, threads, GemmPrecision.Fp32)));
        };
    }

    /// <summary>The host backend: no ILGPU context or accelerator.</summary>
    private ComputeDevice(DeviceInfo info, GemmPrecision precision)
    {
        Info = info;
        Gemm = GemmAlgorithm.Packed;
        Tile = CpuOps<float>.GemmRowBlock;
        Precision = precision;
        _float32 = new Lazy<IDeviceOps<float>>(() => new CpuOps<float>(precision));
        _float64 = new Lazy<IDeviceOps<double>>(() => new CpuOps<double>());
        _newLane = () => new Lane(
            null,
            new Lazy<IDeviceOps<float>>(() => new CpuOps<float>(precision)),
            new Lazy<IDeviceOps<double>>(() => new CpuOps<double>()));
    }

    /// <summary>
    /// The arithmetic of this device's float32 matrix products (<see cref="GemmPrecision.Fp32"/>
    /// unless opened with another): <c>tf32</c>, <c>3xtf32</c> and <c>bf16</c> run on tensor cores
    /// on CUDA devices of compute capability 8.0 or more, and elsewhere round the operands as
    /// tensor cores do, so their numerics are the same on every device. float64 products are
    /// always float64.
    /// </summary>
    public GemmPrecision Precision { get; }

    /// <summary>What this device is.</summary>
    public DeviceInfo Info { get; }

    /// <summary>The device's name (<c>cuda:0</c>, <c>ilgpu-cpu</c>, ...).</summary>
    public string Name => Info.Name;

    /// <summary>The GEMM algorithm the device launches (<see cref="GemmAlgorithm.Blocked"/> picks a kernel per product: see <see cref="GemmKernelFor"/>).</summary>
    public GemmAlgorithm Gemm { get; }

    /// <summary>
    /// The kernel that runs a float32 product of this shape on this device: <see cref="Gemm"/>
    /// resolved by <see cref="GemmDispatch.Choose"/> (<see cref="GemmAlgorithm.Packed"/> on <c>cpu</c>).
    /// </summary>
    /// <param name="shape">The product.</param>
    public GemmAlgorithm GemmKernelFor(GemmShape shape) =>
        _accelerator is null ? GemmAlgorithm.Packed : ((IlgpuOps<float, F32Ops>)Ops<float>()).KernelFor(shape);

    /// <summary>The tile edge of the tiled GEMM on this device (for <c>cpu</c>, the rows of the GEMM's register block).</summary>
    public int Tile { get; }

    /// <summary>The device's operations on element type T (float or double).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    public IDeviceOps<T> Ops<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return (IDeviceOps<T>)_float32.Value;
        if (typeof(T) == typeof(double))
            return (IDeviceOps<T>)_float64.Value;
        throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported");
    }

    /// <summary>The most lanes <see cref="Ops{T}(int)"/> offers (lanes 0 … MaxLanes − 1).</summary>
    public const int MaxLanes = 64;

    /// <summary>
    /// The device's operations on element type T bound to one lane: lane 0 is <see cref="Ops{T}()"/>;
    /// every other lane, made on first use, issues on an accelerator stream of its own (ILGPU
    /// devices) or is a host operations object of its own with its own GEMM scratch, meant to be
    /// driven from a thread of its own (<c>cpu</c>). The two directions of a bidirectional layer
    /// use lanes 0 and 1; the wavefront over layers gives layer k lane k.
    /// </summary>
    /// <remarks>
    /// Work on different lanes is not ordered: call <see cref="IMemoryOps{T}.Synchronize"/> on a
    /// lane before another lane reads what it wrote (and on lane 0 before another lane reads
    /// what lane 0 wrote, buffers it allocated included).
    /// </remarks>
    /// <param name="lane">0 … <see cref="MaxLanes"/> − 1.</param>
    /// <typeparam name="T">float or double.</typeparam>
    /// <exception cref="LstmException">The lane is negative or not below <see cref="MaxLanes"/>.</exception>
    public IDeviceOps<T> Ops<T>(int lane) where T : unmanaged
    {
        if (lane == 0)
            return Ops<T>();
        if (lane < 0 || lane >= MaxLanes)
            throw new LstmException($"device lane {lane} does not exist: lanes are 0 to {MaxLanes - 1}");
        Lane entry;
        lock (_lanes)
        {
            while (_lanes.Count < lane)
                _lanes.Add(_newLane());
            entry = _lanes[lane - 1];
        }

        if (typeof(T) == typeof(float))
            return (IDeviceOps<T>)entry.Float32.Value;
        if (typeof(T) == typeof(double))
            return (IDeviceOps<T>)entry.Float64.Value;
        throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported");
    }

    /// <summary>One lane past lane 0: its stream (ILGPU devices; null on <c>cpu</c>) and its operations per element type.</summary>
    private sealed record Lane(AcceleratorStream? Stream, Lazy<IDeviceOps<float>> Float32, Lazy<IDeviceOps<double>> Float64);

    /// <summary>True when an ILGPU accelerator backs this device (CUDA, OpenCL, ilgpu-cpu); false for <c>cpu</c>.</summary>
    public bool IsIlgpu => _accelerator is not null;

    /// <summary>The ILGPU accelerator behind this device.</summary>
    /// <exception cref="LstmException">The device is the host backend (<c>cpu</c>), which has none.</exception>
    internal Accelerator Accelerator =>
        _accelerator ?? throw new LstmException($"device '{Name}' runs host code: it has no ILGPU accelerator (use cuda, opencl or ilgpu-cpu)");

    /// <summary>
    /// ILGPU's CPU accelerator of a given shape, with the RowDot GEMM (the tests: several
    /// multiprocessors hold several groups of a persistent kernel at once).
    /// </summary>
    /// <param name="warpSize">Lanes a warp.</param>
    /// <param name="warpsPerMultiprocessor">Warps a multiprocessor (and a group).</param>
    /// <param name="multiprocessors">Multiprocessors: groups that run at once.</param>
    internal static ComputeDevice OpenIlgpuCpu(int warpSize, int warpsPerMultiprocessor, int multiprocessors) =>
        OpenIlgpuCpu(warpSize, warpsPerMultiprocessor, multiprocessors, GemmAlgorithm.RowDot, GemmPrecision.Fp32);

    /// <summary>
    /// As <see cref="OpenIlgpuCpu(int, int, int)"/>, with the GEMM algorithm and the precision of
    /// float32 products: a CPU accelerator shaped like a GPU runs the dispatch's GPU choices.
    /// </summary>
    internal static ComputeDevice OpenIlgpuCpu(int warpSize, int warpsPerMultiprocessor, int multiprocessors, GemmAlgorithm gemm, GemmPrecision precision)
    {
        var context = CreateContext();
        try
        {
            var device = new CPUDevice(warpSize, warpsPerMultiprocessor, multiprocessors);
            var accelerator = device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
            var info = Describe(device, "ilgpu-cpu", DeviceKind.IlgpuCpu, false);
            return new ComputeDevice(context, accelerator, info, gemm, TileFor(accelerator.MaxNumThreadsPerGroup), precision);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Lists the devices present on this machine, in the order <c>auto</c> prefers them: CUDA, OpenCL, cpu, ilgpu-cpu.</summary>
    public static IReadOnlyList<DeviceInfo> Available()
    {
        using var context = CreateContext();
        return Enumerate(context).Select(d => d.Info).ToList();
    }

    /// <summary>Opens a device by name.</summary>
    /// <param name="name">auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.</param>
    /// <exception cref="LstmException">The name is unknown, or no such device is present.</exception>
    public static ComputeDevice Open(string name) => Open(name, null);

    /// <summary>Opens a device by name, choosing its GEMM kernel (tests use this to run the tiled kernel on the CPU accelerator).</summary>
    /// <param name="name">auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.</param>
    /// <param name="gemm">
    /// The GEMM kernel, or null for the device's default: <see cref="GemmAlgorithm.Blocked"/> on
    /// CUDA and OpenCL, <see cref="GemmAlgorithm.RowDot"/> on <c>ilgpu-cpu</c> (whose groups of 16
    /// threads cannot run the FP32 family's). <see cref="GemmAlgorithm.Packed"/> is the only one on
    /// <c>cpu</c>, and runs only there.
    /// </param>
    /// <exception cref="LstmException">The name is unknown, no such device is present, or its groups are too small for the kernel.</exception>
    public static ComputeDevice Open(string name, GemmAlgorithm? gemm) => Open(name, gemm, GemmPrecision.Fp32);

    /// <summary>Opens a device by name with the precision of its float32 matrix products (see <see cref="Precision"/>).</summary>
    /// <param name="name">auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.</param>
    /// <param name="precision">fp32 (exact float32), tf32, 3xtf32 or bf16.</param>
    /// <exception cref="LstmException">The name is unknown or no such device is present.</exception>
    public static ComputeDevice Open(string name, GemmPrecision precision) => Open(name, null, precision);

    /// <summary>Opens a device by name with its GEMM kernel and the precision of its float32 products.</summary>
    /// <param name="name">auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.</param>
    /// <param name="gemm">The GEMM kernel, or null for the device's default (see <see cref="Open(string, GemmAlgorithm?)"/>).</param>
    /// <param name="precision">fp32 (exact float32), tf32, 3xtf32 or bf16.</param>
    /// <exception cref="LstmException">The name is unknown, no such device is present, or its groups are too small for the kernel.</exception>
    public static ComputeDevice Open(string name, GemmAlgorithm? gemm, GemmPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(name);
        string wanted = name.Trim().ToLowerInvariant();
        var (kind, index) = Parse(wanted);
        if (kind == DeviceKind.Cpu)
            return OpenCpu(name, gemm, precision);
        var context = CreateContext();
        try
        {
            var all = Enumerate(context);
            (Device? Device, DeviceInfo Info)? chosen = null;
            if (kind is null)
            {
                chosen = all.FirstOrDefault(d => d.Info.Kind == DeviceKind.Cuda);
                if (chosen?.Device is null)
                    chosen = all.FirstOrDefault(d => d.Info.Kind == DeviceKind.OpenCL && d.Info.IsGpu);
                if (chosen?.Device is null)
                {
                    context.Dispose();
                    return OpenCpu(name, gemm, precision);
                }
            }
            else
            {
                var ofKind = all.Where(d => d.Info.Kind == kind).ToList();
                if (index < ofKind.Count)
                    chosen = ofKind[index];
                else
                {
                    string present = all.Count == 0 ? "none" : string.Join(", ", all.Select(d => d.Info.Name));
                    throw new LstmException($"device '{name}' is not present on this machine (present: {present})");
                }
            }

            if (chosen?.Device is not { } device)
                throw new LstmException($"device '{name}': no device is present on this machine");
            var info = chosen.Value.Info;
            if (gemm == GemmAlgorithm.Packed)
                throw new LstmException($"device '{name}': the {GemmAlgorithm.Packed} GEMM runs only on the '{CpuName}' device");
            var accelerator = info.Kind == DeviceKind.IlgpuCpu
                ? ((CPUDevice)device).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel)
                : info.Kind == DeviceKind.OpenCL
                    ? OpenClSupport.CreateAccelerator(context, (CLDevice)device)
                    : device.CreateAccelerator(context);
            var algorithm = gemm ?? (info.Kind == DeviceKind.IlgpuCpu ? GemmAlgorithm.RowDot : GemmAlgorithm.Blocked);
            if (accelerator.MaxNumThreadsPerGroup < GemmDispatch.GroupSize(algorithm))
            {
                int most = accelerator.MaxNumThreadsPerGroup;
                accelerator.Dispose();
                throw new LstmException(
                    $"device '{name}': the {algorithm} GEMM needs groups of {GemmDispatch.GroupSize(algorithm)} threads, the device's hold {most}");
            }

            int tile = TileFor(accelerator.MaxNumThreadsPerGroup);
            return new ComputeDevice(context, accelerator, info, algorithm, tile, precision);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static ComputeDevice OpenCpu(string name, GemmAlgorithm? gemm, GemmPrecision precision)
    {
        if (gemm is { } g && g != GemmAlgorithm.Packed)
            throw new LstmException($"device '{name}': the {g} GEMM is an ILGPU kernel; the '{CpuName}' device runs the {GemmAlgorithm.Packed} host GEMM");
        return new ComputeDevice(DescribeCpu(), precision);
    }

    /// <summary>
    /// Threads per element-wise launch: on a GPU, enough for one per element on any LSTM shape;
    /// on ILGPU's CPU accelerator one group, since each simulated thread costs an OS-thread
    /// hand-off and a kernel looping over many elements is about ten times faster.
    /// </summary>
    private static int MaxThreads(DeviceInfo info, Accelerator accelerator) =>
        info.Kind == DeviceKind.IlgpuCpu ? accelerator.MaxNumThreadsPerGroup : int.MaxValue;

    private static int TileFor(int maxGroup)
    {
        int tile = 16;
        while (tile * tile > maxGroup && tile > 1)
            tile /= 2;
        return tile;
    }

    private static (DeviceKind? Kind, int Index) Parse(string name)
    {
        if (name == Auto)
            return (null, 0);
        if (name == "ilgpu-cpu")
            return (DeviceKind.IlgpuCpu, 0);
        if (name == CpuName)
            return (DeviceKind.Cpu, 0);
        string head = name;
        int index = 0;
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            head = name[..colon];
            if (!int.TryParse(name[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out index))
                throw new LstmException($"device '{name}': the index after ':' must be a number (device names: {NameHelp})");
        }

        return head switch
        {
            "cuda" => (DeviceKind.Cuda, index),
            "opencl" => (DeviceKind.OpenCL, index),
            _ => throw new LstmException($"unknown device '{name}' (device names: {NameHelp})"),
        };
    }

    private static Context CreateContext()
    {
        NativeLibraries.EnsureRegistered();
        return Context.Create(builder =>
        {
            builder.Cuda();
            OpenClSupport.ConfigureOpenCL(builder);
            builder.CPU();
            builder.EnableAlgorithms();
            builder.Math(MathMode.Default);
        });
    }

    private static List<(Device? Device, DeviceInfo Info)> Enumerate(Context context)
    {
        var result = new List<(Device?, DeviceInfo)>();
        int cuda = 0;
        int opencl = 0;
        foreach (var device in context)
        {
            switch (device)
            {
                case CudaDevice:
                    result.Add((device, Describe(device, $"cuda:{cuda++}", DeviceKind.Cuda, true)));
                    break;
                case CLDevice cl:
                    result.Add((device, Describe(device, $"opencl:{opencl++}", DeviceKind.OpenCL, cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU)));
                    break;
                default:
                    break;
            }
        }

        result.Add((null, DescribeCpu()));
        var cpus = context.GetCPUDevices();
        if (cpus.Count > 0)
        {
            var cpu = cpus[0];
            result.Add((cpu, Describe(cpu, "ilgpu-cpu", DeviceKind.IlgpuCpu, false)));
        }

        return result;
    }

    private static DeviceInfo Describe(Device device, string name, DeviceKind kind, bool isGpu)
    {
        // ILGPU's CPU accelerator reports long.MaxValue bytes: it uses the host's memory, so report that.
        long memory = kind == DeviceKind.IlgpuCpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : device.MemorySize;
        return new(name, kind, device.Name, memory, device.WarpSize, device.NumMultiprocessors, device.MaxNumThreadsPerGroup, isGpu);
    }

    /// <summary>
    /// The host backend's description: the processor's model name (from /proc/cpuinfo where
    /// readable), host memory, the vector width in floats as the warp size and the cores as
    /// multiprocessors.
    /// </summary>
    private static DeviceInfo DescribeCpu()
    {
        int cores = Environment.ProcessorCount;
        int vectorFloats = Vector512.IsHardwareAccelerated ? Vector512<float>.Count
            : Vector256.IsHardwareAccelerated ? Vector256<float>.Count
            : Vector128.IsHardwareAccelerated ? Vector128<float>.Count
            : 1;
        return new(CpuName, DeviceKind.Cpu, CpuModelName(), GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, vectorFloats, cores, cores, false);
    }

    private static string CpuModelName()
    {
        const string fallback = "host processor";
        try
        {
            if (!File.Exists("/proc/cpuinfo"))
                return $"{fallback} ({System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture})";
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and >= 0)
                    return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
            // Unreadable: fall back to the architecture.
        }
        catch (UnauthorizedAccessException)
        {
            // Unreadable: fall back to the architecture.
        }

        return $"{fallback} ({System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture})";
    }

    /// <summary>Waits until all work issued on the device has finished (the host backend's operations are synchronous).</summary>
    public void Synchronize() => _accelerator?.Synchronize();

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lanes)
        {
            foreach (var lane in _lanes)
                lane.Stream?.Dispose();
            _lanes.Clear();
        }

        _accelerator?.Dispose();
        _context?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Precision == GemmPrecision.Fp32 ? $"{Name} ({Info.Description})" : $"{Name} ({Info.Description}, {PrecisionNames.Name(Precision)} products)";
}
