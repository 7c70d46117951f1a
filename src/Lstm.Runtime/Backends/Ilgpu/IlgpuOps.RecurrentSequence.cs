using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// A GRU or RNN direction's whole forward loop as one persistent launch (<see cref="PersistentGruKernels"/>,
/// <see cref="PersistentRnnKernels"/>) under the LSTM loop's rules: CUDA and ILGPU's CPU accelerator,
/// fp32 GEMMs, every group resident and its slice of W_hh in shared memory, rows of any lengths
/// (the step's active row counts copied to the device with the launch); counted in
/// <see cref="PersistentLaunches"/> with the LSTM forward; a time-out falls back to the step loop.
/// The backward loop likewise (<see cref="PersistentGruBackwardKernels"/>, <see cref="PersistentRnnBackwardKernels"/>),
/// counted with the LSTM backward; a time-out puts dh back as it came in.
/// </summary>
internal sealed partial class IlgpuOps<T, TOps> : IRecurrentSequenceOps<T>
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>? _persistentGru =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentGruKernels.Forward<T, TOps>)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>? _persistentRnn =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentRnnKernels.Forward<T, TOps>)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>? _persistentGruBackward =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentGruBackwardKernels.Backward<T, TOps>)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<int>, ArrayView<int>, PersistentCellShape>? _persistentRnnBackward =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<int>, ArrayView<int>, PersistentCellShape>(PersistentRnnBackwardKernels.Backward<T, TOps>)
            : null;

    private readonly Dictionary<(int Batch, int Hidden, bool Gru, bool Backward), (int Units, int Threads)?> _cellPlans = [];

    /// <inheritdoc/>
    public bool TryRecurrentSequenceForward(in RecurrentSequenceForward<T> args)
    {
        bool gru = args.Cell == RecurrentCellKind.Gru;
        if (!CanRunRecurrentSequence(args.Cell, args.Steps, args.Batch, args.Hidden, false) || CellPlan(args.Batch, args.Hidden, gru, false) is not { } plan)
            return false;
        int groups = (args.Hidden + plan.Units - 1) / plan.Units;
        bool bias = args.BiasIh.HasValue && args.BiasHh.HasValue;
        var shape = new PersistentCellShape(
            args.Steps, args.Batch, args.Hidden, plan.Units, args.Reverse ? 1 : 0, args.Acts.HasValue ? 1 : 0, bias ? 1 : 0,
            args.Cell == RecurrentCellKind.RnnRelu ? 1 : 0, _persistent.SpinLimit, _persistent.SkipGroup);
        int shared = gru ? PersistentGruKernels.SharedElements(args.Hidden, plan.Units, plan.Threads) : PersistentRnnKernels.SharedElements(args.Hidden, plan.Units);
        var config = new KernelConfig(groups, plan.Threads, SharedMemoryConfig.RequestDynamic<T>(shared));
        var a = args;
        bool met = gru
            ? RunPersistent(sync => _persistentGru!(_stream, config, View(a.XProj), View(a.WeightHh), View(a.BiasIh), View(a.BiasHh),
                View(a.H0), View(a.Output), View(a.Acts), ActiveView(a.Steps, a.Batch, a.Active), sync, shape))
            : RunPersistent(sync => _persistentRnn!(_stream, config, View(a.XProj), View(a.WeightHh), View(a.BiasIh), View(a.BiasHh),
                View(a.H0), View(a.Output), ActiveView(a.Steps, a.Batch, a.Active), sync, shape));
        _persistent.Count(backward: false, met);
        return met;
    }

    /// <inheritdoc/>
    public bool TryRecurrentSequenceBackward(in RecurrentSequenceBackward<T> args)
    {
        bool gru = args.Cell == RecurrentCellKind.Gru;
        if (!CanRunRecurrentSequence(args.Cell, args.Steps, args.Batch, args.Hidden, true) || (gru && !args.Acts.HasValue)
            || CellPlan(args.Batch, args.Hidden, gru, true) is not { } plan)
            return false;
        int groups = (args.Hidden + plan.Units - 1) / plan.Units;
        int n = args.Batch * args.Hidden;
        var shape = new PersistentCellShape(
            args.Steps, args.Batch, args.Hidden, plan.Units, args.Reverse ? 1 : 0, 1, 0,
            args.Cell == RecurrentCellKind.RnnRelu ? 1 : 0, _persistent.SpinLimit, _persistent.SkipGroup);
        int shared = gru ? PersistentGruBackwardKernels.SharedElements(args.Hidden, plan.Units) : PersistentRnnBackwardKernels.SharedElements(args.Hidden, plan.Units);
        var config = new KernelConfig(groups, plan.Threads, SharedMemoryConfig.RequestDynamic<T>(shared));
        var a = args;
        ArrayView<T> savedDh = default;
        bool met = RunPersistent(
            sync =>
            {
                if (_persistentSaved is null || _persistentSaved.Length < n)
                {
                    _persistentSaved?.Dispose();
                    _persistentSaved = _accelerator.Allocate1D<T>(n);
                }

                // The loop updates dh in place: keep it to put back if it times out.
                savedDh = _persistentSaved.View.SubView(0, n);
                View(a.DhRec).CopyTo(_stream, savedDh);
                if (gru)
                {
                    _persistentGruBackward!(_stream, config, View(a.Dy), View(a.WeightHh), View(a.Acts), View(a.Output), View(a.H0),
                        View(a.DhRec), View(a.DGates), View(a.DGatesH), ActiveView(a.Steps, a.Batch, a.Active), sync, shape);
                }
                else
                {
                    _persistentRnnBackward!(_stream, config, View(a.Dy), View(a.WeightHh), View(a.Output), View(a.DhRec), View(a.DGates),
                        ActiveView(a.Steps, a.Batch, a.Active), sync, shape);
                }
            },
            () => savedDh.CopyTo(_stream, View(a.DhRec)));

        // On a time-out dh is as it came in; the step loop rewrites every step's gate gradients.
        _persistent.Count(backward: true, met);
        return met;
    }

    /// <inheritdoc/>
    public bool CanRunRecurrentSequence(RecurrentCellKind cell, int steps, int batch, int hidden, bool backward) =>
        CellKernel(cell == RecurrentCellKind.Gru, backward) is not null && _persistent.Enabled
        && _precision == GemmPrecision.Fp32 && steps > 0 && batch > 0 && hidden > 0 && CellPlan(batch, hidden, cell == RecurrentCellKind.Gru, backward) is not null;

    /// <summary>The loaded kernel of a cell's loop, or null where the accelerator has none.</summary>
    private Kernel? CellKernel(bool gru, bool backward) => (gru, backward) switch
    {
        (true, false) => _persistentGru?.GetKernel(),
        (false, false) => _persistentRnn?.GetKernel(),
        (true, true) => _persistentGruBackward?.GetKernel(),
        _ => _persistentRnnBackward?.GetKernel(),
    };

    private (int Units, int Threads)? CellPlan(int batch, int hidden, bool gru, bool backward)
    {
        lock (_cellPlans)
        {
            if (!_cellPlans.TryGetValue((batch, hidden, gru, backward), out var plan))
                _cellPlans[(batch, hidden, gru, backward)] = plan = ChooseCellPlan(batch, hidden, gru, backward);
            return plan;
        }
    }

    /// <summary>
    /// As the LSTM's plan: the fewest resident groups whose slices of W_hh fit. The forward runs a
    /// thread per gate (b, r) of a chunk (GRU groups a multiple of 3 threads), the backward a thread per (b, u).
    /// </summary>
    private (int Units, int Threads)? ChooseCellPlan(int batch, int hidden, bool gru, bool backward)
    {
        int sms = Math.Max(1, _accelerator.NumMultiprocessors);
        int warp = Math.Max(1, _accelerator.WarpSize);
        int gates = gru ? 3 : 1;
        int multiple = backward ? 1 : gates;
        int maxThreads = Math.Min(_accelerator.MaxNumThreadsPerGroup, 256) / multiple * multiple;
        if (maxThreads < multiple)
            return null;
        bool cpu = _accelerator.AcceleratorType == AcceleratorType.CPU;
        var kernel = CellKernel(gru, backward)!;
        long elementSize = Unsafe.SizeOf<T>();
        for (int target = Math.Min(hidden, sms); ; target = Math.Min(hidden, target + sms))
        {
            int units = (hidden + target - 1) / target;
            int groups = (hidden + units - 1) / units;
            int items = batch * (backward ? 1 : gates) * units;
            int threads = Math.Min(maxThreads, (items + warp - 1) / warp * warp);
            threads = Math.Max(multiple, threads / multiple * multiple);
            long bytes = (backward
                ? gru ? PersistentGruBackwardKernels.SharedElements(hidden, units) : PersistentRnnBackwardKernels.SharedElements(hidden, units)
                : gru ? PersistentGruKernels.SharedElements(hidden, units, threads) : PersistentRnnKernels.SharedElements(hidden, units)) * elementSize;
            if (bytes <= _persistent.SharedLimit(kernel))
            {
                long resident = _persistent.ResidentGroups(kernel, threads, (int)bytes);
                if (groups <= resident)
                    return (units, threads);
            }

            if (target >= hidden || cpu)
                return null;
        }
    }
}
