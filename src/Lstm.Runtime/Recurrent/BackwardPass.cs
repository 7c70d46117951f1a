using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// What every direction of one backward pass shares: the layer's cell, parameters and schedule,
/// the forward pass it walks back through, the upstream and initial-state gradients, and each
/// slot's scratch.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class BackwardPass<T> : IDisposable where T : unmanaged
{
    /// <summary>The cell.</summary>
    public required IRecurrentCell<T> Cell { get; init; }

    /// <summary>The sizes.</summary>
    public required RecurrentConfig Config { get; init; }

    /// <summary>Each direction's parameters (and gradients), index layer·D + direction.</summary>
    public required DirectionParameters<T>[] Parameters { get; init; }

    /// <summary>The schedule (for the whole-loop choice).</summary>
    public required LoopSchedule Schedule { get; init; }

    /// <summary>The lanes of this pass.</summary>
    public required LaneLayout<T> Layout { get; init; }

    /// <summary>The dropout between layers (the forward pass's masks).</summary>
    public required LayerDropout Dropout { get; init; }

    /// <summary>The pass's sizes.</summary>
    public required PassSizes Sizes { get; init; }

    /// <summary>The training forward pass.</summary>
    public required RecurrentResult<T> Forward { get; init; }

    /// <summary>d loss / d h_n [L·D, B, H_out] in sorted rows, or null for zeros.</summary>
    public required BufferSlice<T>? DHN { get; init; }

    /// <summary>d loss / d c_n [L·D, B, H] in sorted rows, or null for zeros.</summary>
    public required BufferSlice<T>? DCN { get; init; }

    /// <summary>dh0 [L·D, B, H_out] in sorted rows.</summary>
    public required DeviceBuffer<T> DH0 { get; init; }

    /// <summary>dc0 [L·D, B, H] in sorted rows, or null without a cell state.</summary>
    public required DeviceBuffer<T>? DC0 { get; init; }

    /// <summary>Zeros, at least [D, T, B, H_out] and [B, H].</summary>
    public required DeviceBuffer<T> Zeros { get; init; }

    /// <summary>[D, T·B, H_out]: a bidirectional layer's dy with each direction's rows contiguous; null for one direction.</summary>
    public required DeviceBuffer<T>? DySplit { get; init; }

    /// <summary>Each slot's scratch, on the slot's lane (<see cref="BackwardScratch{T}.Allocate"/>).</summary>
    public required BackwardScratch<T>[] Scratch { get; init; }

    /// <summary>The rows sorted by length, or null when every row has T steps.</summary>
    public LengthPlan? Plan => Forward.Plan;

    public void Dispose()
    {
        foreach (var s in Scratch)
            s?.Dispose();
    }
}

/// <summary>
/// One direction's scratch for a backward pass, on its lane: dgates (and GRU's dgates_h) [T, B, G],
/// the recurrent dh [B, H_out] (two for GRU), dc [B, H], and with a projection dh_t [T, B, P] and d(o ⊙ tanh c) [B, H].
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class BackwardScratch<T> : IDisposable where T : unmanaged
{
    /// <summary>Every slot's scratch, each on its lane.</summary>
    public static BackwardScratch<T>[] Allocate(LaneLayout<T> layout, PassSizes z, bool separateHiddenGradient)
    {
        var scratch = new BackwardScratch<T>[layout.Slots];
        try
        {
            for (int slot = 0; slot < scratch.Length; slot++)
                scratch[slot] = new BackwardScratch<T>(layout.Lanes[slot], z, separateHiddenGradient);
            return scratch;
        }
        catch
        {
            foreach (var s in scratch)
                s?.Dispose();
            throw;
        }
    }

    private BackwardScratch(IDeviceOps<T> lane, PassSizes z, bool separateHiddenGradient)
    {
        DGates = lane.Allocate(z.Steps * z.GateStep);
        DGatesH = separateHiddenGradient ? lane.Allocate(z.Steps * z.GateStep) : DGates;
        DhRecA = lane.Allocate(z.OutStep);
        DhRecB = separateHiddenGradient ? lane.Allocate(z.OutStep) : null;
        Dc = lane.Allocate(z.StepSize);
        DhSum = z.Proj > 0 ? lane.Allocate(z.OutPerDirection) : null;
        DhRaw = z.Proj > 0 ? lane.Allocate(z.StepSize) : null;
    }

    /// <summary>d loss / d xproj for every step [T, B, G].</summary>
    public DeviceBuffer<T> DGates { get; }

    /// <summary>d loss / d hproj for every step [T, B, G]: <see cref="DGates"/> itself unless the cell separates them.</summary>
    public DeviceBuffer<T> DGatesH { get; }

    /// <summary>The recurrent dh [B, H_out].</summary>
    public DeviceBuffer<T> DhRecA { get; }

    /// <summary>The second recurrent dh [B, H_out] of a cell that writes dh_{t-1} itself (GRU).</summary>
    public DeviceBuffer<T>? DhRecB { get; }

    /// <summary>dc [B, H].</summary>
    public DeviceBuffer<T> Dc { get; }

    /// <summary>dh_t = dy_t + dh_rec for every step [T, B, P] (projection only).</summary>
    public DeviceBuffer<T>? DhSum { get; }

    /// <summary>d(o ⊙ tanh c) [B, H] (projection only).</summary>
    public DeviceBuffer<T>? DhRaw { get; }

    public void Dispose()
    {
        DGates.Dispose();
        if (!ReferenceEquals(DGatesH, DGates))
            DGatesH.Dispose();
        DhRecA.Dispose();
        DhRecB?.Dispose();
        Dc.Dispose();
        DhSum?.Dispose();
        DhRaw?.Dispose();
    }
}
