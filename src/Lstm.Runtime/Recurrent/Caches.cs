using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>What one direction of one layer keeps for the backward pass (time-major buffers).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionCache<T> : IDisposable where T : unmanaged
{
    /// <summary>h0 of this direction [B, H_out] (not owned).</summary>
    public BufferSlice<T> H0 { get; init; }

    /// <summary>c0 of this direction [B, H] (not owned; LSTM).</summary>
    public BufferSlice<T> C0 { get; init; }

    /// <summary>h_t for every t [T, B, H_out], indexed by time (a slice of the layer's stacked buffer).</summary>
    public BufferSlice<T> Output { get; init; }

    /// <summary>c_t for every step [T, B, H] (training, LSTM).</summary>
    public DeviceBuffer<T>? Cells { get; set; }

    /// <summary>The cell's stored activations for every step [T, B, A·H] (training).</summary>
    public DeviceBuffer<T>? Acts { get; set; }

    /// <summary>o ⊙ tanh(c_t) before the projection [T, B, H] (training, proj_size &gt; 0).</summary>
    public DeviceBuffer<T>? HRaw { get; set; }

    public void Dispose()
    {
        Cells?.Dispose();
        Acts?.Dispose();
        HRaw?.Dispose();
        Cells = null;
        Acts = null;
        HRaw = null;
    }
}

/// <summary>What one layer's forward keeps (time-major buffers).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class LayerCache<T> : IDisposable where T : unmanaged
{
    /// <summary>The layer's input [T, B, I_k] (not owned).</summary>
    public BufferSlice<T> Input { get; set; }

    /// <summary>Each direction's h for every step, stacked [D, T, B, H_out].</summary>
    public DeviceBuffer<T>? Stacked { get; set; }

    /// <summary>[T, B, 2·H_out]: the directions side by side (bidirectional only).</summary>
    public DeviceBuffer<T>? Concat { get; set; }

    /// <summary>[T, B, D·H_out]: dropout of the output, the next layer's input (training with dropout, all layers but the last).</summary>
    public DeviceBuffer<T>? Dropped { get; set; }

    /// <summary>The layer's output [T, B, D·H_out] (a view of <see cref="Stacked"/> or <see cref="Concat"/>).</summary>
    public BufferSlice<T> Output { get; set; }

    public List<DirectionCache<T>> Directions { get; } = [];

    public void Dispose()
    {
        foreach (var d in Directions)
            d?.Dispose();
        Directions.Clear();
        Stacked?.Dispose();
        Concat?.Dispose();
        Dropped?.Dispose();
        Stacked = null;
        Concat = null;
        Dropped = null;
    }
}
