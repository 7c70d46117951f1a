using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>The slices one forward step of a cell reads and writes (all [B, ·], time step t).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct CellForwardStep<T>(
    BufferSlice<T> XProj,
    BufferSlice<T> HProj,
    BufferSlice<T>? BiasIh,
    BufferSlice<T>? BiasHh,
    BufferSlice<T> HPrev,
    BufferSlice<T> CPrev,
    BufferSlice<T> H,
    BufferSlice<T> C,
    BufferSlice<T>? Acts)
    where T : unmanaged;

/// <summary>The slices one backward step of a cell reads and writes (all [B, ·], time step t).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct CellBackwardStep<T>(
    BufferSlice<T> Dy,
    BufferSlice<T> DhRec,
    BufferSlice<T> Dc,
    BufferSlice<T> Acts,
    BufferSlice<T> H,
    BufferSlice<T> HPrev,
    BufferSlice<T> C,
    BufferSlice<T> CPrev,
    BufferSlice<T> DGatesX,
    BufferSlice<T> DGatesH,
    BufferSlice<T> DhPrev)
    where T : unmanaged;

/// <summary>
/// What distinguishes one recurrent cell type from another inside the recurrent time loop:
/// the gate width, the state it carries, and its fused forward and backward step kernels.
/// A new cell is one class implementing this interface.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal interface IRecurrentCell<T> where T : unmanaged
{
    /// <summary>Name in messages: LSTM, GRU, RNN.</summary>
    string Name { get; }

    /// <summary>G / H: 4 (LSTM), 3 (GRU), 1 (RNN).</summary>
    int Gates { get; }

    /// <summary>True when the cell carries c (LSTM).</summary>
    bool HasCellState { get; }

    /// <summary>Width of the stored activations per step over H: 4 (LSTM, GRU), 0 (RNN).</summary>
    int ActsPerHidden { get; }

    /// <summary>
    /// True when the gradient of xproj differs from that of hproj (GRU), so both are stored; and
    /// the backward step writes the direct part of dh_{t-1} (the recurrent GEMM then adds with β = 1).
    /// </summary>
    bool SeparateHiddenGradient { get; }

    /// <summary>One forward step: h (and c) of step t from the projections and the previous state.</summary>
    void Forward(IDeviceOps<T> ops, int batch, int hidden, in CellForwardStep<T> s);

    /// <summary>One backward step: the gate gradients of step t (and dc_{t-1}, or GRU's direct dh_{t-1}).</summary>
    void Backward(IDeviceOps<T> ops, int batch, int hidden, in CellBackwardStep<T> s);
}
