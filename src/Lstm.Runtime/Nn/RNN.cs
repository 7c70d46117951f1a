using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Recurrent.Cells;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// A multi-layer Elman RNN with <c>torch.nn.RNN</c>'s semantics:
/// h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu; parameters
/// <c>weight_ih_l{k}</c> [H, I_k], <c>weight_hh_l{k}</c> [H, H], <c>bias_ih_l{k}</c> [H],
/// <c>bias_hh_l{k}</c> [H] (<c>_reverse</c> for the backward direction); h0 optional (zeros).
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, L layers, D directions.
/// It runs on the engine the LSTM uses: one input GEMM [T·B, I] × [I, H] for all steps, then per
/// step one recurrent GEMM [B, H] × [H, H] and one fused cell kernel; backward in reverse with
/// the weight gradients as GEMMs over all steps.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class RNN<T> : RecurrentLayer<T> where T : unmanaged
{
    /// <summary>Creates the layers with PyTorch's initialization, U(-1/√H, 1/√H), drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where parameters and activations live.</param>
    /// <param name="options">Sizes and flags.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public RNN(ComputeDevice device, RNNOptions options, int seed = 0)
        : base(device, new RnnCell<T>(Checked(options).Nonlinearity == RnnNonlinearity.Relu), Checked(options).ToConfig(), seed)
    {
        Options = options;
    }

    /// <summary>The configuration.</summary>
    public RNNOptions Options { get; }

    /// <summary>Runs the RNN over a sequence.</summary>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I]; T ≥ 1.</param>
    /// <param name="h0">[L·D, B, H] or null for zeros.</param>
    /// <param name="training">True keeps what <see cref="Backward"/> needs; false stores nothing per step.</param>
    /// <param name="lengths">
    /// Null: every sequence has T steps. Else one length per sequence (any order), each in [0, T],
    /// with PyTorch's packed-sequence semantics: output past a length is 0, h_n (c_n) is each
    /// sequence's state at its own last step (h0/c0 for length 0), the reverse direction starts at
    /// each sequence's own end, and backward ignores the padding.
    /// </param>
    /// <returns>output ([B, T, D·H] or [T, B, D·H]) and h_n ([L·D, B, H]); dispose it when done.</returns>
    public RecurrentResult<T> Forward(Tensor<T> x, Tensor<T>? h0 = null, bool training = false, IReadOnlyList<int>? lengths = null)
        => RunForward(x, h0, null, training, lengths, (steps, batch, plan) => new RecurrentResult<T>(this, steps, batch, training, plan));

    /// <summary>
    /// Back-propagates through a training <see cref="Forward"/>: returns the gradients of x and h0
    /// and adds each parameter's gradient to its <see cref="Parameter{T}.Grad"/>.
    /// </summary>
    /// <param name="forward">The result of <c>Forward(..., training: true)</c>.</param>
    /// <param name="dOutput">d loss / d output, shaped like output; null for zeros.</param>
    /// <param name="dHN">d loss / d h_n, [L·D, B, H]; null for zeros.</param>
    /// <returns>dx (shaped like x) and dh0 ([L·D, B, H]); dispose it when done.</returns>
    public RecurrentGradients<T> Backward(RecurrentResult<T> forward, Tensor<T>? dOutput = null, Tensor<T>? dHN = null)
        => RunBackward(forward, dOutput, dHN, null, new RecurrentGradients<T>());

    private static RNNOptions Checked(RNNOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
