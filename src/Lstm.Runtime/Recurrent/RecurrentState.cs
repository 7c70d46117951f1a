using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The state a streaming <c>Step</c> carries from one chunk to the next (like PyTorch's
/// <c>nn.LSTMCell</c> loop or a Keras stateful layer): h [L, B, H_out] and, for an LSTM, c [L, B, H].
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class RecurrentState<T> : IDisposable where T : unmanaged
{
    internal RecurrentState(Tensor<T> h, Tensor<T>? c)
    {
        H = h;
        C = c;
    }

    /// <summary>[L, B, H_out]: every layer's h after the last step fed.</summary>
    public Tensor<T> H { get; }

    /// <summary>[L, B, H]: every layer's c after the last step fed (LSTM), else null.</summary>
    public Tensor<T>? C { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        H.Dispose();
        C?.Dispose();
    }
}
