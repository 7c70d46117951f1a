using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// An LSTM direction's whole forward loop as one persistent launch (<see cref="PersistentLstmKernels"/>)
/// on CUDA and ILGPU's CPU accelerator, where every group of the grid can be resident at once
/// (the occupancy estimate; on the CPU accelerator one group a multiprocessor) and each group's
/// slice of W_hh (and of W_hr, with a projection) fits in its shared memory. The values equal the
/// step loop's bit for bit: each gate is summed over k in order from zero with one multiply-add per
/// k, as the GEMM kernels sum, then the same cell (then each projected feature summed likewise).
/// The backward loop likewise (<see cref="PersistentLstmBackwardKernels"/>): the fused cell
/// backward, then dh_{t-1} summed over the gate rows in order as the GEMM sums it. Variable
/// lengths run each step's active rows only, as the step loop does (the counts n_t go to the
/// kernel with the launch). OpenCL and reduced precisions step aside to the step loop.
/// </summary>
internal sealed partial class IlgpuOps<T, TOps> : ILstmSequenceOps<T>
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>? _persistentForward =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>(PersistentLstmKernels.Forward<T, TOps>)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>? _persistentBackward =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentLstmShape>(PersistentLstmBackwardKernels.Backward<T, TOps>)
            : null;

    private readonly Dictionary<(int Batch, int Hidden, int Proj, bool Backward), PersistentPlan?> _persistentPlans = [];
    private readonly PersistentLaunches _persistent = PersistentLaunches.For(accelerator);
    private MemoryBuffer1D<int, Stride1D.Dense>? _sync;

    /// <summary>The backward's dh and dc as they came in, put back after a time-out.</summary>
    private MemoryBuffer1D<T, Stride1D.Dense>? _persistentSaved;

    /// <summary>The backward's projection scratch: d(o ⊙ tanh c) of a step, then zeros.</summary>
    private MemoryBuffer1D<T, Stride1D.Dense>? _persistentScratch;

    /// <summary>Each step's active rows n_t, on the device.</summary>
    private MemoryBuffer1D<int, Stride1D.Dense>? _persistentActive;

    /// <summary>Units a group, threads a group and projection features a group of one persistent grid.</summary>
    private readonly record struct PersistentPlan(int Units, int Threads, int ProjUnits);

    /// <inheritdoc/>
    public bool TryLstmSequenceForward(in LstmSequenceForward<T> args)
    {
        if (!CanRunLstmSequence(args.Steps, args.Batch, args.Hidden, args.Proj, args.Active is not null, false)
            || (args.Proj > 0 && (args.WeightHr is null || args.HRaw is null))
            || Plan(args.Batch, args.Hidden, args.Proj, false) is not { } plan)
            return false;
        int groups = (args.Hidden + plan.Units - 1) / plan.Units;
        bool bias = args.BiasIh.HasValue && args.BiasHh.HasValue;
        var shape = new PersistentLstmShape(
            args.Steps, args.Batch, args.Hidden, plan.Units, args.Reverse ? 1 : 0, args.StoreCells ? 1 : 0, args.Acts.HasValue ? 1 : 0,
            bias ? 1 : 0, _persistent.SpinLimit, _persistent.SkipGroup, args.Proj, plan.ProjUnits);
        var config = new KernelConfig(groups, plan.Threads,
            SharedMemoryConfig.RequestDynamic<T>(PersistentLstmKernels.SharedElements(args.Hidden, plan.Units, plan.Threads, args.Proj, plan.ProjUnits)));
        var a = args;
        var forward = _persistentForward!;
        bool met = RunPersistent(sync => forward(_stream, config, View(a.XProj), View(a.WeightHh), View(a.WeightHr), View(a.BiasIh), View(a.BiasHh),
            View(a.H0), View(a.C0), View(a.Output), View(a.Cells), View(a.HRaw), View(a.Acts), ActiveView(a.Steps, a.Batch, a.Active), sync, shape));

        // A group was not resident (or was lost): the outputs are partial; the step loop rewrites them all.
        _persistent.Count(backward: false, met);
        return met;
    }

    /// <inheritdoc/>
    public bool TryLstmSequenceBackward(in LstmSequenceBackward<T> args)
    {
        if (!CanRunLstmSequence(args.Steps, args.Batch, args.Hidden, args.Proj, args.Active is not null, true)
            || (args.Proj > 0 && (args.WeightHr is null || args.DhSum is null))
            || Plan(args.Batch, args.Hidden, args.Proj, true) is not { } plan)
            return false;
        int groups = (args.Hidden + plan.Units - 1) / plan.Units;
        int n = args.Batch * args.Hidden;
        int nOut = args.Batch * (args.Proj > 0 ? args.Proj : args.Hidden);
        var shape = new PersistentLstmShape(
            args.Steps, args.Batch, args.Hidden, plan.Units, args.Reverse ? 1 : 0, 1, 1, 0, _persistent.SpinLimit, _persistent.SkipGroup,
            args.Proj, plan.ProjUnits);
        var config = new KernelConfig(groups, plan.Threads,
            SharedMemoryConfig.RequestDynamic<T>(PersistentLstmBackwardKernels.SharedElements(args.Hidden, plan.Units, args.Proj, plan.ProjUnits)));
        var a = args;
        var backward = _persistentBackward!;
        ArrayView<T> savedDh = default, savedDc = default;
        bool met = RunPersistent(
            sync =>
            {
                if (_persistentSaved is null || _persistentSaved.Length < (long)nOut + n)
                {
                    _persistentSaved?.Dispose();
                    _persistentSaved = _accelerator.Allocate1D<T>((long)nOut + n);
                }

                // The loop updates dh and dc in place: keep them to put back if it times out.
                savedDh = _persistentSaved.View.SubView(0, nOut);
                savedDc = _persistentSaved.View.SubView(nOut, n);
                View(a.DhRec).CopyTo(_stream, savedDh);
                View(a.Dc).CopyTo(_stream, savedDc);
                var scratch = ArrayView<T>.Empty;
                if (a.Proj > 0)
                {
                    if (_persistentScratch is null || _persistentScratch.Length < 2L * n)
                    {
                        _persistentScratch?.Dispose();
                        _persistentScratch = _accelerator.Allocate1D<T>(2L * n);
                    }

                    scratch = _persistentScratch.View.SubView(0, 2L * n);
                    scratch.SubView(n, n).MemSetToZero(_stream);
                }

                backward(_stream, config, View(a.Dy), View(a.WeightHh), View(a.WeightHr), View(a.Acts), View(a.Cells), View(a.C0),
                    View(a.DhRec), View(a.Dc), View(a.DGates), View(a.DhSum), scratch, ActiveView(a.Steps, a.Batch, a.Active), sync, shape);
            },
            () =>
            {
                savedDh.CopyTo(_stream, View(a.DhRec));
                savedDc.CopyTo(_stream, View(a.Dc));
            });

        // On a time-out dh and dc are as they came in; the step loop rewrites every step's gate gradients.
        _persistent.Count(backward: true, met);
        return met;
    }

    /// <summary>
    /// n_t of every step on the device (B for every step without variable lengths), copied on the
    /// stream before the launch that reads it; called under the launch lock.
    /// </summary>
    private ArrayView<int> ActiveView(int steps, int batch, IReadOnlyList<int>? active)
    {
        if (_persistentActive is null || _persistentActive.Length < steps)
        {
            _persistentActive?.Dispose();
            _persistentActive = _accelerator.Allocate1D<int>(steps);
        }

        var counts = new int[steps];
        for (int t = 0; t < steps; t++)
            counts[t] = active?[t] ?? batch;
        var view = _persistentActive.View.SubView(0, steps);
        view.CopyFromCPU(_stream, counts);
        return view;
    }

    /// <summary>
    /// One persistent launch under the accelerator's lock (one grid at a time, so grids from two
    /// streams never compete for the multiprocessors): the barrier state zeroed, the kernel
    /// launched by <paramref name="launch"/> with it, then waited for. Returns whether every group
    /// met every barrier; if not, <paramref name="restore"/> runs (still under the lock) to put back
    /// what the launch updated in place.
    /// </summary>
    private bool RunPersistent(Action<ArrayView<int>> launch, Action? restore = null)
    {
        var failed = new int[1];
        lock (_persistent.Lock)
        {
            _sync ??= _accelerator.Allocate1D<int>(PersistentLstmKernels.SyncLength);
            _sync.View.MemSetToZero(_stream);
            launch(_sync.View);
            _sync.View.SubView(PersistentLstmKernels.SyncFailed, 1).CopyToCPU(_stream, failed);
            _stream.Synchronize();
            if (failed[0] != 0 && restore is not null)
            {
                restore();
                _stream.Synchronize();
            }
        }

        return failed[0] == 0;
    }

    /// <inheritdoc/>
    public bool CanRunLstmSequence(int steps, int batch, int hidden, int proj, bool ragged, bool backward) =>
        (backward ? _persistentBackward is not null : _persistentForward is not null) && _persistent.Enabled && _precision == GemmPrecision.Fp32
        && steps > 0 && batch > 0 && hidden > 0 && proj >= 0 && proj < hidden && Plan(batch, hidden, proj, backward) is not null;

    /// <summary>
    /// The grid for (B, H, P), or null when no grid of resident groups holds its slices of W_hh
    /// (and W_hr): the fewest groups (one a multiprocessor to begin with) that fit.
    /// </summary>
    private PersistentPlan? Plan(int batch, int hidden, int proj, bool backward)
    {
        lock (_persistentPlans)
        {
            if (!_persistentPlans.TryGetValue((batch, hidden, proj, backward), out var plan))
                _persistentPlans[(batch, hidden, proj, backward)] = plan = ChoosePlan(batch, hidden, proj, backward);
            return plan;
        }
    }

    private PersistentPlan? ChoosePlan(int batch, int hidden, int proj, bool backward)
    {
        int sms = Math.Max(1, _accelerator.NumMultiprocessors);
        int warp = Math.Max(1, _accelerator.WarpSize);
        int maxThreads = Math.Min(_accelerator.MaxNumThreadsPerGroup, 256) / 4 * 4;
        if (maxThreads < 4)
            return null;
        bool cpu = _accelerator.AcceleratorType == AcceleratorType.CPU;
        var kernel = backward ? _persistentBackward!.GetKernel() : _persistentForward!.GetKernel();
        long elementSize = Unsafe.SizeOf<T>();
        for (int target = Math.Min(hidden, sms); ; target = Math.Min(hidden, target + sms))
        {
            int units = (hidden + target - 1) / target;
            int groups = (hidden + units - 1) / units;
            // Each group's share of the projected features: P < H, so never more than U.
            int projUnits = proj > 0 ? (proj + groups - 1) / groups : 0;
            // Forward a thread per gate (b, r) of a chunk; backward a thread per (b, u).
            int items = batch * (backward ? 1 : 4) * units;
            int threads = Math.Min(maxThreads, (items + warp - 1) / warp * warp);
            threads = Math.Max(4, threads / 4 * 4);
            long bytes = (backward
                ? PersistentLstmBackwardKernels.SharedElements(hidden, units, proj, projUnits)
                : PersistentLstmKernels.SharedElements(hidden, units, threads, proj, projUnits)) * elementSize;
            if (bytes <= _persistent.SharedLimit(kernel))
            {
                // ILGPU's CPU accelerator runs one group at a time on each multiprocessor.
                long resident = _persistent.ResidentGroups(kernel, threads, (int)bytes);
                if (groups <= resident)
                    return new PersistentPlan(units, threads, projUnits);
            }

            if (target >= hidden || cpu)
                return null;
        }
    }
}
