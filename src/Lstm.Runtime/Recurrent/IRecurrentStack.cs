using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The recurrent part of a <c>RecurrentNetwork</c>, between its embedding and its head:
/// one batch-first recurrent layer on one device, or a layer pipeline over several.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input features, D directions, H_out = P or H,
/// S = <see cref="StateLayers"/>.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal interface IRecurrentStack<T> : IDisposable where T : unmanaged
{
    /// <summary>Where x must be for <see cref="Forward"/>; null when x is used where it is.</summary>
    ComputeDevice? InputDevice { get; }

    /// <summary>S: the layers whose last states a pass's h_n holds (all L of one layer, or the top one of a pipeline).</summary>
    int StateLayers { get; }

    /// <summary>The seed of the dropout masks of the next training <see cref="Forward"/>.</summary>
    ulong DropoutSeed { get; set; }

    /// <summary>Every parameter with PyTorch's name under the layer (<c>weight_ih_l0</c>, ...), in PyTorch's order.</summary>
    IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters();

    /// <summary>Runs the layers over x.</summary>
    /// <param name="x">[B, T, I] on <see cref="InputDevice"/> (when set).</param>
    /// <param name="training">True keeps what <see cref="Backward"/> needs and applies dropout.</param>
    /// <returns>The output and h_n, on the head's device; the caller disposes it.</returns>
    IRecurrentPass<T> Forward(Tensor<T> x, bool training);

    /// <summary>Back-propagates through a training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="forward">The pass <see cref="Forward"/> returned.</param>
    /// <param name="dOutput">d loss / d output [B, T, D·H_out], or null for zeros.</param>
    /// <param name="dHN">d loss / d h_n [S·D, B, H_out], or null for zeros.</param>
    /// <param name="dx">d loss / d x [B, T, I], owned by the returned object.</param>
    /// <returns>What holds <paramref name="dx"/>; the caller disposes it once done with dx.</returns>
    IDisposable Backward(IRecurrentPass<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, out Tensor<T> dx);
}

/// <summary>A forward pass of an <see cref="IRecurrentStack{T}"/>: its output, h_n and (training) what backward needs.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal interface IRecurrentPass<T> : IDisposable where T : unmanaged
{
    /// <summary>[B, T, D·H_out]: the top layer's h_t for every t, directions side by side.</summary>
    Tensor<T> Output { get; }

    /// <summary>[S·D, B, H_out]: the last state of each layer the stack reports, index layer·D + direction.</summary>
    Tensor<T> HN { get; }

    /// <summary>T.</summary>
    int Steps { get; }

    /// <summary>B.</summary>
    int Batch { get; }
}
