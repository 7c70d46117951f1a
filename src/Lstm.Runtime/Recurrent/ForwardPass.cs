using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// What every direction of one forward pass shares: the layer's cell, parameters and schedule,
/// the pass's sizes and rows, the initial and final states, and each slot's scratch.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class ForwardPass<T> : IDisposable where T : unmanaged
{
    /// <summary>The cell.</summary>
    public required IRecurrentCell<T> Cell { get; init; }

    /// <summary>The sizes.</summary>
    public required RecurrentConfig Config { get; init; }

    /// <summary>Each direction's parameters, index layer·D + direction.</summary>
    public required DirectionParameters<T>[] Parameters { get; init; }

    /// <summary>The schedule (for the whole-loop choice).</summary>
    public required LoopSchedule Schedule { get; init; }

    /// <summary>The lanes of this pass.</summary>
    public required LaneLayout<T> Layout { get; init; }

    /// <summary>The dropout between layers.</summary>
    public required LayerDropout Dropout { get; init; }

    /// <summary>The pass's sizes.</summary>
    public required PassSizes Sizes { get; init; }

    /// <summary>The rows sorted by length, or null when every row has T steps.</summary>
    public required LengthPlan? Plan { get; init; }

    /// <summary>True keeps what backward needs (and applies dropout).</summary>
    public required bool Training { get; init; }

    /// <summary>Every step's c is kept (training, or variable lengths, whose c_n is at each row's own last step).</summary>
    public required bool StoreCells { get; init; }

    /// <summary>h0 [L·D, B, H_out] in sorted rows, or null for zeros.</summary>
    public required BufferSlice<T>? H0 { get; init; }

    /// <summary>c0 [L·D, B, H] in sorted rows, or null for zeros.</summary>
    public required BufferSlice<T>? C0 { get; init; }

    /// <summary>Zeros [B, H] when h0 or c0 is null.</summary>
    public required DeviceBuffer<T>? ZeroState { get; init; }

    /// <summary>h_n [L·D, B, H_out] in sorted rows.</summary>
    public required DeviceBuffer<T> HN { get; init; }

    /// <summary>c_n [L·D, B, H] in sorted rows, or null without a cell state.</summary>
    public required DeviceBuffer<T>? CN { get; init; }

    /// <summary>Each slot's scratch, on the slot's lane (<see cref="ForwardScratch{T}.Allocate"/>).</summary>
    public required ForwardScratch<T>[] Scratch { get; init; }

    /// <summary>True when layer k's output goes through dropout (training, p &gt; 0, all layers but the last).</summary>
    public bool Drops(int layer) => Training && Config.Dropout > 0 && layer < Config.NumLayers - 1;

    public void Dispose()
    {
        foreach (var s in Scratch)
            s?.Dispose();
    }
}

/// <summary>
/// One direction's scratch for a forward pass, on its lane: xproj [T, B, G], hproj [B, G], the c
/// ping-pong [2, B, H] (when c is not kept per step), o ⊙ tanh(c) [B, H] (inference with a projection).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class ForwardScratch<T> : IDisposable where T : unmanaged
{
    /// <summary>Every slot's scratch, each on its lane.</summary>
    public static ForwardScratch<T>[] Allocate(LaneLayout<T> layout, PassSizes z, bool hasCellState, bool storeCells, bool training)
    {
        var scratch = new ForwardScratch<T>[layout.Slots];
        try
        {
            for (int slot = 0; slot < scratch.Length; slot++)
                scratch[slot] = new ForwardScratch<T>(layout.Lanes[slot], z, hasCellState, storeCells, training);
            return scratch;
        }
        catch
        {
            foreach (var s in scratch)
                s?.Dispose();
            throw;
        }
    }

    private ForwardScratch(IDeviceOps<T> lane, PassSizes z, bool hasCellState, bool storeCells, bool training)
    {
        // Every step's rows are written (β = 0) before its cell reads them.
        XProj = lane.AllocateUninitialized(z.Steps * z.GateStep);
        HProj = lane.Allocate(z.GateStep);
        CPing = storeCells || !hasCellState ? null : lane.Allocate(2 * z.StepSize);
        HRawTmp = training || z.Proj == 0 ? null : lane.Allocate(z.StepSize);
    }

    public DeviceBuffer<T> XProj { get; }

    public DeviceBuffer<T> HProj { get; }

    public DeviceBuffer<T>? CPing { get; }

    public DeviceBuffer<T>? HRawTmp { get; }

    public void Dispose()
    {
        XProj.Dispose();
        HProj.Dispose();
        CPing?.Dispose();
        HRawTmp?.Dispose();
    }
}
