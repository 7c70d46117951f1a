using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// A GRU or RNN direction's whole forward loop as one persistent launch (<see cref="PersistentGruKernels"/>,
/// <see cref="PersistentRnnKernels"/>) under the LSTM loop's rules: CUDA and ILGPU's CPU accelerator,
/// fp32 GEMMs, every group resident and its slice of W_hh in shared memory; counted in
/// <see cref="PersistentLaunches"/> with the LSTM forward; a time-out falls back to the step loop.
/// </summary>
internal sealed partial class IlgpuOps<T, TOps> : IRecurrentSequenceOps<T>
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<T>, ArrayView<int>, PersistentCellShape>? _persistentGru =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<int>, PersistentCellShape>(PersistentGruKernels.Forward<T, TOps>)
            : null;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
        ArrayView<T>, ArrayView<int>, PersistentCellShape>? _persistentRnn =
        PersistentLaunches.Supports(accelerator)
            ? accelerator.LoadKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<int>, PersistentCellShape>(PersistentRnnKernels.Forward<T, TOps>)
            : null;

    private readonly Dictionary<(int Batch, int Hidden, bool Gru), (int Units, int Threads)?> _cellPlans = [];

    /// <inheritdoc/>
    public bool TryRecurrentSequenceForward(in RecurrentSequenceForward<T> args)
    {
        bool gru = args.Cell == RecurrentCellKind.Gru;
        if (!CanRunRecurrentSequence(args.Cell, args.Steps, args.Batch, args.Hidden) || CellPlan(args.Batch, args.Hidden, gru) is not { } plan)
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
                View(a.H0), View(a.Output), View(a.Acts), sync, shape))
            : RunPersistent(sync => _persistentRnn!(_stream, config, View(a.XProj), View(a.WeightHh), View(a.BiasIh), View(a.BiasHh),
                View(a.H0), View(a.Output), sync, shape));
        _persistent.Count(backward: false, met);
        return met;
    }

    /// <inheritdoc/>
    public bool CanRunRecurrentSequence(RecurrentCellKind cell, int steps, int batch, int hidden) =>
        (cell == RecurrentCellKind.Gru ? _persistentGru is not null : _persistentRnn is not null) && _persistent.Enabled
        && _precision == GemmPrecision.Fp32 && steps > 0 && batch > 0 && hidden > 0 && CellPlan(batch, hidden, cell == RecurrentCellKind.Gru) is not null;

    private (int Units, int Threads)? CellPlan(int batch, int hidden, bool gru)
    {
        lock (_cellPlans)
        {
            if (!_cellPlans.TryGetValue((batch, hidden, gru), out var plan))
                _cellPlans[(batch, hidden, gru)] = plan = ChooseCellPlan(batch, hidden, gru);
            return plan;
        }
    }

    /// <summary>As the LSTM's plan: the fewest resident groups whose slices of W_hh fit; GRU groups a multiple of 3 threads.</summary>
    private (int Units, int Threads)? ChooseCellPlan(int batch, int hidden, bool gru)
    {
        int sms = Math.Max(1, _accelerator.NumMultiprocessors);
        int warp = Math.Max(1, _accelerator.WarpSize);
        int gates = gru ? 3 : 1;
        int maxThreads = Math.Min(_accelerator.MaxNumThreadsPerGroup, 256) / gates * gates;
        if (maxThreads < gates)
            return null;
        bool cpu = _accelerator.AcceleratorType == AcceleratorType.CPU;
        var kernel = gru ? _persistentGru!.GetKernel() : _persistentRnn!.GetKernel();
        long elementSize = Unsafe.SizeOf<T>();
        for (int target = Math.Min(hidden, sms); ; target = Math.Min(hidden, target + sms))
        {
            int units = (hidden + target - 1) / target;
            int groups = (hidden + units - 1) / units;
            int items = batch * gates * units;
            int threads = Math.Min(maxThreads, (items + warp - 1) / warp * warp);
            threads = Math.Max(gates, threads / gates * gates);
            long bytes = (gru ? PersistentGruKernels.SharedElements(hidden, units, threads) : PersistentRnnKernels.SharedElements(hidden, units)) * elementSize;
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
