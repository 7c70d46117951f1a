using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Scheduling;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// Where a recurrent layer's loops run: which lanes, whether stacked layers overlap as a
/// wavefront, whether an LSTM direction's loop runs as one operation. Every choice gives the same
/// results bit for bit; they differ only in speed.
/// </summary>
/// <param name="device">The device.</param>
internal sealed class LoopSchedule(ComputeDevice device)
{
    private bool? _wavefront;
    private int _wavefrontBlock;

    /// <summary>
    /// True (the default): a bidirectional layer runs its two directions side by side, each on a
    /// lane of the device (<see cref="ComputeDevice.Ops{T}(int)"/>) with its own scratch buffers,
    /// joined before the next layer. False: one after the other on lane 0.
    /// </summary>
    public bool ConcurrentDirections { get; set; } = true;

    /// <summary>
    /// True (the default): an LSTM direction's time loop runs as one operation on devices that
    /// have it (<see cref="ILstmSequenceOps{T}"/>: <c>cpu</c>, and CUDA and ILGPU's CPU accelerator
    /// as one persistent launch); false: one operation per step.
    /// </summary>
    public bool WholeLoops { get; set; } = true;

    /// <summary>
    /// True: stacked one-direction layers (L ≥ 2) run as a wavefront over blocks of
    /// <see cref="WavefrontBlock"/> steps, layer k on lane k: forward, layer k works on block b
    /// while layer k+1 works on block b−1; backward, the same in reverse. False: one layer after
    /// the other. Bidirectional layers never overlap: layer k+1 needs every step of layer k.
    /// </summary>
    /// <remarks>
    /// The default is on where lanes are streams (<see cref="Lanes.AreStreams"/>: a GPU runs the
    /// small per-step kernels of two layers side by side) and off on host lanes, where each GEMM
    /// already keeps the cores busy and a thread per layer plus a hand-off per block cost more
    /// than the overlap gains (bench/RESULTS.md, "Scheduler: wavefront over layers"). Left at its
    /// default, a pass whose every layer's loop the device would run whole (the persistent LSTM
    /// loop: one launch a layer instead of two a step) runs layer after layer instead
    /// (<see cref="Layout{T}"/>); set explicitly, the wavefront runs wherever it can.
    /// </remarks>
    public bool Wavefront
    {
        get => _wavefront ?? Lanes.AreStreams(device);
        set => _wavefront = value;
    }

    /// <summary>Steps per block of the wavefront; 0 (the default) for ⌈T / 8⌉, so about 8 blocks.</summary>
    /// <exception cref="LstmException">A negative value.</exception>
    public int WavefrontBlock
    {
        get => _wavefrontBlock;
        set => _wavefrontBlock = value >= 0 ? value : throw new LstmException($"wavefront block {value}: must be a number of steps ≥ 1, or 0 for ⌈T / 8⌉");
    }

    /// <summary>
    /// The lanes of a pass of T steps. In the wavefront each layer has a slot of scratch on lane k
    /// (slot k); else each direction has one, on lane d when the directions run side by side, else on lane 0.
    /// </summary>
    /// <remarks>
    /// With <see cref="Wavefront"/> at its default, stacked layers skip the wavefront when every
    /// layer's direction can take the device's whole loop (<see cref="WholeLoop{T}"/> outside the
    /// wavefront, and <see cref="ILstmSequenceOps{T}.CanRunLstmSequence"/> for this pass's
    /// direction of the loop): one operation a layer beats two a step overlapped. The choice is
    /// made per pass, so a forward may run layer after layer and its backward as a wavefront; the
    /// results are the same bit for bit either way.
    /// </remarks>
    /// <param name="config">The layers.</param>
    /// <param name="cell">The cell.</param>
    /// <param name="plan">The lengths of the rows, or null when every row runs every step.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="backward">Whether the pass is the backward pass.</param>
    public LaneLayout<T> Layout<T>(RecurrentConfig config, IRecurrentCell<T> cell, LengthPlan? plan, int batch, int steps, bool backward)
        where T : unmanaged
    {
        bool stacked = config.NumLayers > 1 && config.NumLayers <= ComputeDevice.MaxLanes && config.Directions == 1 && steps > 1;
        bool wave = stacked && (_wavefront ?? (Lanes.AreStreams(device) && !WholeLoopsEverywhere(config, cell, plan, batch, steps, backward)));
        int slots = wave ? config.NumLayers : config.Directions;
        var lanes = new IDeviceOps<T>[slots];
        for (int slot = 0; slot < slots; slot++)
            lanes[slot] = LaneOf<T>(slot, wave);
        int block = wave ? Math.Min(steps, _wavefrontBlock > 0 ? _wavefrontBlock : Math.Max(1, (steps + 7) / 8)) : steps;
        return new LaneLayout<T>(wave, block, lanes);
    }

    /// <summary>
    /// The device's whole-loop LSTM operations when a direction's loop can take them: an LSTM
    /// outside the wavefront; else null. Whether the device takes the projection and the lengths
    /// is its own to say (<see cref="ILstmSequenceOps{T}.CanRunLstmSequence"/>, or the operation
    /// declining).
    /// </summary>
    public ILstmSequenceOps<T>? WholeLoop<T>(IDeviceOps<T> ops, IRecurrentCell<T> cell, RecurrentConfig config, LengthPlan? plan, int batch, int steps, bool wave)
        where T : unmanaged =>
        WholeLoops && ops is ILstmSequenceOps<T> sequence && cell is LstmCell<T> && !wave && steps > 0 && batch > 0
            ? sequence
            : null;

    /// <summary>
    /// The per-step active row counts a whole loop takes (<see cref="LstmSequenceForward{T}.Active"/>,
    /// <see cref="RecurrentSequenceForward{T}.Active"/>): null when every row runs every step, so
    /// devices that run only full batches still take those.
    /// </summary>
    public static int[]? ActiveCounts(LengthPlan? plan, int batch) =>
        plan is null || Array.TrueForAll(plan.Active, n => n == batch) ? null : plan.Active;

    /// <summary>
    /// The device's whole-loop GRU/RNN operations and the cell's kind when a direction's forward and
    /// backward loops can take them (the rules of <see cref="WholeLoop{T}"/>, a GRU or RNN cell, rows
    /// of any lengths, their per-step counts from <see cref="ActiveCounts"/>); else null.
    /// </summary>
    public (IRecurrentSequenceOps<T> Ops, RecurrentCellKind Cell)? WholeCellLoop<T>(
        IDeviceOps<T> ops, IRecurrentCell<T> cell, RecurrentConfig config, LengthPlan? plan, int batch, int steps, bool wave)
        where T : unmanaged
    {
        RecurrentCellKind? kind = cell switch
        {
            GruCell<T> => RecurrentCellKind.Gru,
            RnnCell<T> rnn => rnn.Relu ? RecurrentCellKind.RnnRelu : RecurrentCellKind.RnnTanh,
            _ => null,
        };
        return WholeLoops && ops is IRecurrentSequenceOps<T> sequence && kind is { } k && config.ProjSize == 0 && !wave && steps > 0 && batch > 0
            ? (sequence, k)
            : null;
    }

    /// <summary>
    /// The device's recorded step loops (CUDA graphs, <see cref="IStepLoopGraphOps{T}"/>) when a
    /// direction's forward step loop can be recorded: the device records, outside the wavefront
    /// (whose blocks hand over to the next layer step by step), every row as long as the sequence;
    /// else null. Any cell, with or without projection.
    /// </summary>
    public static IStepLoopGraphOps<T>? StepLoopGraph<T>(IDeviceOps<T> ops, LengthPlan? plan, int batch, int steps, bool wave)
        where T : unmanaged =>
        ops is IStepLoopGraphOps<T> { RecordsStepLoops: true } graphs && !wave && steps > 0 && batch > 0
        && (plan is null || Array.TrueForAll(plan.Active, n => n == batch))
            ? graphs
            : null;

    private IDeviceOps<T> LaneOf<T>(int slot, bool wave) where T : unmanaged =>
        wave || ConcurrentDirections ? device.Ops<T>(slot) : device.Ops<T>();

    /// <summary>
    /// Whether every direction of every layer, laid out layer after layer, would run its loop
    /// whole: the lane's operations take it (<see cref="WholeLoop{T}"/>) and say they would run
    /// this shape. Layers share B, H and T, so each slot is asked once for all of them.
    /// </summary>
    private bool WholeLoopsEverywhere<T>(RecurrentConfig config, IRecurrentCell<T> cell, LengthPlan? plan, int batch, int steps, bool backward)
        where T : unmanaged
    {
        for (int slot = 0; slot < config.Directions; slot++)
        {
            var lane = LaneOf<T>(slot, wave: false);
            if (WholeCellLoop(lane, cell, config, plan, batch, steps, wave: false) is { } cellLoop)
            {
                if (!cellLoop.Ops.CanRunRecurrentSequence(cellLoop.Cell, steps, batch, config.HiddenSize, backward))
                    return false;
                continue;
            }

            if (WholeLoop(lane, cell, config, plan, batch, steps, wave: false) is not { } sequence
                || !sequence.CanRunLstmSequence(steps, batch, config.HiddenSize, config.ProjSize, ActiveCounts(plan, batch) is not null, backward))
                return false;
        }

        return true;
    }
}

/// <summary>The lanes one pass runs on.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="Wave">True when the layers run as a wavefront (slot k = layer k), false when each direction has a slot.</param>
/// <param name="Block">Steps per block of the wavefront (T outside it).</param>
/// <param name="Lanes">Each slot's operations.</param>
internal sealed record LaneLayout<T>(bool Wave, int Block, IDeviceOps<T>[] Lanes) where T : unmanaged
{
    /// <summary>Slots of scratch: L in the wavefront, else D.</summary>
    public int Slots => Lanes.Length;

    /// <summary>The slot of direction d of layer k.</summary>
    public int SlotOf(int layer, int direction) => Wave ? layer : direction;

    /// <summary>The steps of each block of [0, T) cut every <see cref="Block"/> steps, in the order they are walked.</summary>
    public int[] BlockLengths(int steps, bool reverse)
    {
        int blocks = (steps + Block - 1) / Block;
        var lengths = new int[blocks];
        for (int b = 0; b < blocks; b++)
            lengths[b] = Math.Min(Block, steps - b * Block);
        if (reverse)
            Array.Reverse(lengths);
        return lengths;
    }
}
