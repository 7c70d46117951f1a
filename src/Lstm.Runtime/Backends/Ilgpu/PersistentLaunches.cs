using System.Runtime.CompilerServices;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// The persistent LSTM forward and backward launches of one accelerator, shared by every stream's operations:
/// one at a time (so two grids never share the multiprocessors), counted, and the knobs the
/// tests turn; and the device limits a plan is sized by (<see cref="SharedLimit"/>, <see cref="ResidentGroups(Kernel, int, int)"/>).
/// </summary>
/// <remarks>
/// On CUDA a group may hold more than the default 48 KB of dynamic shared memory once its kernel
/// opts in: <see cref="SharedLimit"/> raises the kernel's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
/// to the device's CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN (less the kernel's static
/// shared memory) before any occupancy query or launch of it, so the fit check, the occupancy
/// estimate that sizes the grid, and the launch all see the same limit. Where the driver call
/// fails the default limit stands, and larger slices take the step loop.
/// </remarks>
internal sealed class PersistentLaunches
{
    /// <summary>Set to <c>0</c> to run every direction's loop step by step (to time the other paths against it).</summary>
    public const string EnvironmentSwitch = "LSTM_PERSISTENT";

    /// <summary>Grid-barrier polls before a group gives up on a GPU: well past any step's wait, a fraction of a second.</summary>
    public const int GpuSpinLimit = 1 << 18;

    /// <summary>Polls on ILGPU's CPU accelerator, whose simulated threads share the host's cores with the waiting ones.</summary>
    public const int CpuSpinLimit = 1 << 28;

    private static readonly ConditionalWeakTable<Accelerator, PersistentLaunches> ByAccelerator = new();
    private long _runs;
    private long _timeouts;
    private long _backwardRuns;
    private long _backwardTimeouts;

    private readonly Accelerator _accelerator;
    private readonly ConditionalWeakTable<Kernel, StrongBox<int>> _sharedLimits = new();

    private PersistentLaunches(Accelerator accelerator)
    {
        _accelerator = accelerator;
        Enabled = Environment.GetEnvironmentVariable(EnvironmentSwitch) != "0";
        SpinLimit = accelerator.AcceleratorType == AcceleratorType.CPU ? CpuSpinLimit : GpuSpinLimit;
    }

    /// <summary>
    /// Whether the persistent kernels can be loaded on <paramref name="accelerator"/>: ILGPU's CPU
    /// accelerator, or CUDA at compute capability 7.0 or more (the grid barrier's scoped fences and
    /// <c>nanosleep</c>). Not OpenCL, whose dynamic shared memory ILGPU 1.5.3 mishandles.
    /// </summary>
    /// <param name="accelerator">The accelerator.</param>
    public static bool Supports(Accelerator accelerator) => accelerator switch
    {
        CudaAccelerator cuda => cuda.Architecture >= CudaArchitecture.SM_70,
        CPUAccelerator => true,
        _ => false,
    };

    /// <summary>
    /// Bytes of dynamic shared memory one group of <paramref name="kernel"/> may ask: on CUDA the
    /// device's opt-in limit, after raising the kernel's attribute to it (once per kernel); elsewhere
    /// the accelerator's limit.
    /// </summary>
    /// <param name="kernel">A loaded persistent kernel (<c>action.GetKernel()</c>).</param>
    public int SharedLimit(Kernel kernel)
    {
        if (kernel is not CudaKernel cuda)
            return _accelerator.MaxSharedMemoryPerGroup;
        lock (_sharedLimits)
        {
            if (!_sharedLimits.TryGetValue(kernel, out var box))
                _sharedLimits.Add(kernel, box = new StrongBox<int>(RaiseSharedLimit(cuda)));
            return box.Value;
        }
    }

    /// <summary>Groups of <paramref name="kernel"/> resident at once with these threads and bytes of dynamic shared memory (the occupancy estimate × multiprocessors; one a multiprocessor on the CPU accelerator).</summary>
    /// <param name="kernel">A loaded persistent kernel, whose <see cref="SharedLimit"/> was asked first.</param>
    /// <param name="threads">Threads a group.</param>
    /// <param name="bytes">Dynamic shared memory a group.</param>
    public long ResidentGroups(Kernel kernel, int threads, int bytes) =>
        ResidentGroups(
            _accelerator.NumMultiprocessors,
            _accelerator.AcceleratorType == AcceleratorType.CPU ? 1 : _accelerator.EstimateMaxActiveGroupsPerMultiprocessor(kernel, threads, bytes));

    /// <summary>Resident groups of a grid: <paramref name="perMultiprocessor"/> on each of at least one multiprocessor.</summary>
    /// <param name="multiprocessors">Multiprocessors of the device.</param>
    /// <param name="perMultiprocessor">Groups one multiprocessor holds at once (the occupancy estimate).</param>
    public static long ResidentGroups(int multiprocessors, int perMultiprocessor) =>
        (long)Math.Max(1, multiprocessors) * Math.Max(0, perMultiprocessor);

    /// <summary>
    /// The most dynamic shared memory a group may ask, given the device's limits: the larger of the
    /// default per-group limit and the opt-in limit (0 when unknown), less the kernel's static shared
    /// memory (which counts against the same per-group limit); never below zero.
    /// </summary>
    /// <param name="defaultPerGroup">The device's default limit per group (48 KB on every CUDA device so far).</param>
    /// <param name="optIn">CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, or 0 when the driver did not say.</param>
    /// <param name="staticBytes">The kernel's static shared memory.</param>
    public static int DynamicSharedLimit(int defaultPerGroup, int optIn, int staticBytes) =>
        Math.Max(0, Math.Max(defaultPerGroup, optIn) - Math.Max(0, staticBytes));

    /// <summary>Raises the kernel's dynamic shared-memory attribute to the device's opt-in limit; returns the limit that now holds.</summary>
    private int RaiseSharedLimit(CudaKernel kernel)
    {
        var accelerator = (CudaAccelerator)_accelerator;
        int fallback = DynamicSharedLimit(accelerator.MaxSharedMemoryPerGroup, 0, 0);
        if (!CudaDriver.Available)
            return fallback;
        using var binding = accelerator.BindScoped();
        if (CudaDriver.DeviceGetAttribute(out int optIn, CudaDriver.DeviceAttributeMaxSharedMemoryPerBlockOptin, accelerator.DeviceId) != 0
            || CudaDriver.FuncGetAttribute(out int staticBytes, CudaDriver.FuncAttributeSharedSizeBytes, kernel.FunctionPtr) != 0)
            return fallback;
        int limit = DynamicSharedLimit(accelerator.MaxSharedMemoryPerGroup, optIn, staticBytes);
        return CudaDriver.FuncSetAttribute(kernel.FunctionPtr, CudaDriver.FuncAttributeMaxDynamicSharedSizeBytes, limit) == 0
            ? limit
            : DynamicSharedLimit(accelerator.MaxSharedMemoryPerGroup, 0, staticBytes);
    }

    /// <summary>The launches of <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    public static PersistentLaunches For(Accelerator accelerator) => ByAccelerator.GetValue(accelerator, a => new PersistentLaunches(a));

    /// <summary>Held while one launch runs and its failure flag is read.</summary>
    public object Lock { get; } = new();

    /// <summary>Whether the persistent forward and backward may run (true by default unless <see cref="EnvironmentSwitch"/> is 0; false: the step loop always).</summary>
    public bool Enabled { get; set; }

    /// <summary>Grid-barrier polls before a group gives up (<see cref="GpuSpinLimit"/> or <see cref="CpuSpinLimit"/>).</summary>
    public int SpinLimit { get; set; }

    /// <summary>Test hook: the group that leaves at once (a lost group), or -1.</summary>
    public int SkipGroup { get; set; } = -1;

    /// <summary>Forward loops that ran as one persistent launch.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Persistent launches whose grid barrier timed out (the step loop then ran instead).</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Backward loops that ran as one persistent launch.</summary>
    public long BackwardRuns => Interlocked.Read(ref _backwardRuns);

    /// <summary>Persistent backward launches whose grid barrier timed out (the step loop then ran instead).</summary>
    public long BackwardTimeouts => Interlocked.Read(ref _backwardTimeouts);

    /// <summary>Counts a persistent launch: a run when every group met every barrier, else a time-out.</summary>
    /// <param name="backward">A backward loop (counted apart from the forward loops).</param>
    /// <param name="met">Whether every group met every barrier.</param>
    public void Count(bool backward, bool met)
    {
        if (backward)
            Interlocked.Increment(ref met ? ref _backwardRuns : ref _backwardTimeouts);
        else
            Interlocked.Increment(ref met ? ref _runs : ref _timeouts);
    }
}
