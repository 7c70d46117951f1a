using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
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
/// Forward and Backward are <see cref="RecurrentLayer{T}"/>'s.
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

    private static RNNOptions Checked(RNNOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
