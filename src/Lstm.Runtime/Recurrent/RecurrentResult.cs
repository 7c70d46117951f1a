using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The result of a recurrent layer's forward pass (<c>GRU</c>, <c>RNN</c>;
/// <see cref="LSTMResult{T}"/> adds c_n): output, h_n, and (training) what backward needs.
/// </summary>
/// <remarks>D = 2 when bidirectional, else 1; H_out = proj_size when set, else hidden_size.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public class RecurrentResult<T> : IDisposable, IRecurrentPass<T> where T : unmanaged
{
    internal RecurrentResult(object owner, int steps, int batch, bool training, LengthPlan? plan = null)
    {
        Owner = owner;
        Steps = steps;
        Batch = batch;
        Training = training;
        Plan = plan;
    }

    /// <summary>[B, T, D·H_out] if batch_first, else [T, B, D·H_out]: the last layer's h_t for every t, directions side by side.</summary>
    public Tensor<T> Output { get; internal set; } = null!;

    /// <summary>[L·D, B, H_out]: each layer's and direction's h at its last step (index layer·D + direction).</summary>
    public Tensor<T> HN { get; internal set; } = null!;

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>True when the result keeps what backward needs.</summary>
    public bool Training { get; private set; }

    internal object Owner { get; }

    /// <summary>[L·D, B, H]: c_n for an LSTM, else null.</summary>
    internal Tensor<T>? CellState { get; set; }

    internal List<LayerCache<T>> Layers { get; } = [];

    internal DeviceBuffer<T>? InputTimeMajor { get; set; }

    /// <summary>Sequence lengths, sorted (null: every row has length T).</summary>
    internal LengthPlan? Plan { get; }

    /// <summary>Buffers the cache refers to (rows sorted by length): released with it.</summary>
    internal List<DeviceBuffer<T>> Owned { get; } = [];

    /// <summary>Keeps a buffer alive as long as the cache; returns its whole slice.</summary>
    internal BufferSlice<T> Own(DeviceBuffer<T> buffer)
    {
        Owned.Add(buffer);
        return buffer.All;
    }

    /// <summary>Zeros [B, H]: the initial state when h0 or c0 was not given.</summary>
    internal DeviceBuffer<T>? ZeroState { get; set; }

    internal void ReleaseCache()
    {
        ZeroState?.Dispose();
        ZeroState = null;
        foreach (var l in Layers)
            l.Dispose();
        Layers.Clear();
        InputTimeMajor?.Dispose();
        InputTimeMajor = null;
        foreach (var b in Owned)
            b.Dispose();
        Owned.Clear();
        Training = false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the device buffers.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        ReleaseCache();
        Output?.Dispose();
        HN?.Dispose();
        CellState?.Dispose();
    }
}

/// <summary>The result of <c>LSTM.Forward</c>: output, h_n, c_n, and (training) what backward needs.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LSTMResult<T> : RecurrentResult<T> where T : unmanaged
{
    internal LSTMResult(object owner, int steps, int batch, bool training, LengthPlan? plan = null)
        : base(owner, steps, batch, training, plan)
    {
    }

    /// <summary>[L·D, B, H]: each layer's and direction's c at its last step.</summary>
    public Tensor<T> CN => CellState!;
}

/// <summary>The gradients a recurrent layer's backward returns (<see cref="LSTMGradients{T}"/> adds dc0).</summary>
/// <typeparam name="T">float or double.</typeparam>
public class RecurrentGradients<T> : IDisposable where T : unmanaged
{
    internal RecurrentGradients()
    {
    }

    /// <summary>d loss / d x, shaped like x.</summary>
    public Tensor<T> DX { get; internal set; } = null!;

    /// <summary>d loss / d h0, [L·D, B, H_out].</summary>
    public Tensor<T> DH0 { get; internal set; } = null!;

    /// <summary>d loss / d c0 for an LSTM, else null.</summary>
    internal Tensor<T>? DC0State { get; set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the device buffers.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        DX?.Dispose();
        DH0?.Dispose();
        DC0State?.Dispose();
    }
}

/// <summary>The gradients <c>LSTM.Backward</c> returns.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LSTMGradients<T> : RecurrentGradients<T> where T : unmanaged
{
    internal LSTMGradients()
    {
    }

    /// <summary>d loss / d c0, [L·D, B, H].</summary>
    public Tensor<T> DC0 => DC0State!;
}
