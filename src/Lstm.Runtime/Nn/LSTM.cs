using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// A multi-layer LSTM with <c>torch.nn.LSTM</c>'s semantics: gate order i, f, g, o; parameters
/// <c>weight_ih_l{k}</c> [4H, I_k], <c>weight_hh_l{k}</c> [4H, H_out], <c>bias_ih_l{k}</c> [4H],
/// <c>bias_hh_l{k}</c> [4H], <c>weight_hr_l{k}</c> [P, H] (proj_size), each with <c>_reverse</c>
/// for the backward direction of a bidirectional layer; h0/c0 optional (zeros).
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, P projection size,
/// H_out = P or H, L layers, D directions.
/// Each layer runs as docs/design.md describes: one input GEMM [T·B, I] × [I, 4H] for all steps, then
/// per step one recurrent GEMM [B, H_out] × [H_out, 4H] and one fused cell kernel. Backward walks
/// the steps in reverse with one fused backward kernel and one recurrent GEMM per step; the
/// weight gradients are GEMMs over all steps at the end and the bias gradients one reduction.
/// </remarks>
/// <typeparam name="T">float (default) or double.</typeparam>
public sealed class LSTM<T> : RecurrentLayer<T> where T : unmanaged
{
    /// <summary>Creates the layers with PyTorch's initialization, U(-1/√H, 1/√H), drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where parameters and activations live.</param>
    /// <param name="options">Sizes and flags.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public LSTM(ComputeDevice device, LSTMOptions options, int seed = 0)
        : base(device, LstmCell<T>.Instance, Checked(options).ToConfig(), seed)
    {
        Options = options;
    }

    /// <summary>The configuration.</summary>
    public LSTMOptions Options { get; }

    /// <summary>
    /// Runs the LSTM over a sequence.
    /// </summary>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I]; T ≥ 1.</param>
    /// <param name="h0">[L·D, B, H_out] or null for zeros.</param>
    /// <param name="c0">[L·D, B, H] or null for zeros.</param>
    /// <param name="training">True keeps what backward needs; false stores nothing per step.</param>
    /// <param name="lengths">
    /// Null: every sequence has T steps. Else one length per sequence (any order), each in [0, T],
    /// with PyTorch's packed-sequence semantics: output past a length is 0, h_n (c_n) is each
    /// sequence's state at its own last step (h0/c0 for length 0), the reverse direction starts at
    /// each sequence's own end, and backward ignores the padding.
    /// </param>
    /// <returns>output ([B, T, D·H_out] or [T, B, D·H_out]), h_n ([L·D, B, H_out]) and c_n ([L·D, B, H]); dispose it when done.</returns>
    public LSTMResult<T> Forward(Tensor<T> x, Tensor<T>? h0 = null, Tensor<T>? c0 = null, bool training = false, IReadOnlyList<int>? lengths = null)
        => (LSTMResult<T>)ForwardWithState(x, h0, c0, training, lengths);

    /// <summary>Runs the LSTM over a sequence from h0 and zeros for c0.</summary>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I]; T ≥ 1.</param>
    /// <param name="h0">[L·D, B, H_out] or null for zeros.</param>
    /// <param name="training">True keeps what backward needs; false stores nothing per step.</param>
    /// <param name="lengths">Null, or one length per sequence (see the overload with c0).</param>
    /// <returns>output, h_n and c_n; dispose it when done.</returns>
    public override LSTMResult<T> Forward(Tensor<T> x, Tensor<T>? h0 = null, bool training = false, IReadOnlyList<int>? lengths = null)
        => Forward(x, h0, null, training, lengths);

    /// <summary>
    /// Back-propagates through a training forward: returns the gradients of x, h0
    /// and c0 and adds each parameter's gradient to its <see cref="Parameter{T}.Grad"/>.
    /// </summary>
    /// <param name="forward">The result of <c>Forward(..., training: true)</c>.</param>
    /// <param name="dOutput">d loss / d output, shaped like output; null for zeros.</param>
    /// <param name="dHN">d loss / d h_n, [L·D, B, H_out]; null for zeros.</param>
    /// <param name="dCN">d loss / d c_n, [L·D, B, H]; null for zeros.</param>
    /// <returns>dx (shaped like x), dh0 ([L·D, B, H_out]) and dc0 ([L·D, B, H]); dispose it when done.</returns>
    public LSTMGradients<T> Backward(LSTMResult<T> forward, Tensor<T>? dOutput = null, Tensor<T>? dHN = null, Tensor<T>? dCN = null)
        => (LSTMGradients<T>)BackwardWithState(forward, dOutput, dHN, dCN);

    /// <summary>Back-propagates through a training forward of this LSTM with zeros for dc_n.</summary>
    /// <param name="forward">The result of <c>Forward(..., training: true)</c> (an <see cref="LSTMResult{T}"/>).</param>
    /// <param name="dOutput">d loss / d output, shaped like output; null for zeros.</param>
    /// <param name="dHN">d loss / d h_n, [L·D, B, H_out]; null for zeros.</param>
    /// <returns>dx, dh0 and dc0; dispose it when done.</returns>
    public override LSTMGradients<T> Backward(RecurrentResult<T> forward, Tensor<T>? dOutput = null, Tensor<T>? dHN = null)
        => (LSTMGradients<T>)BackwardWithState(forward, dOutput, dHN, null);

    private protected override RecurrentResult<T> NewResult(int steps, int batch, bool training, LengthPlan? plan) => new LSTMResult<T>(this, steps, batch, training, plan);

    private protected override RecurrentGradients<T> NewGradients() => new LSTMGradients<T>();

    private static LSTMOptions Checked(LSTMOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
