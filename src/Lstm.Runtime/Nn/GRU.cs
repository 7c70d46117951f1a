using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// A multi-layer GRU with <c>torch.nn.GRU</c>'s semantics: gate order r, z, n with
/// n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)) and h' = (1 − z) ⊙ n + z ⊙ h; parameters
/// <c>weight_ih_l{k}</c> [3H, I_k], <c>weight_hh_l{k}</c> [3H, H], <c>bias_ih_l{k}</c> [3H],
/// <c>bias_hh_l{k}</c> [3H] (<c>_reverse</c> for the backward direction); h0 optional (zeros).
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, L layers, D directions.
/// It runs on the engine the LSTM uses: one input GEMM [T·B, I] × [I, 3H] for all steps, then per
/// step one recurrent GEMM [B, H] × [H, 3H] and one fused cell kernel; backward in reverse with
/// the weight gradients as GEMMs over all steps.
/// Forward and Backward are <see cref="RecurrentLayer{T}"/>'s.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class GRU<T> : RecurrentLayer<T> where T : unmanaged
{
    /// <summary>Creates the layers with PyTorch's initialization, U(-1/√H, 1/√H), drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where parameters and activations live.</param>
    /// <param name="options">Sizes and flags.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public GRU(ComputeDevice device, GRUOptions options, int seed = 0)
        : base(device, GruCell<T>.Instance, Checked(options).ToConfig(), seed)
    {
        Options = options;
    }

    /// <summary>The configuration.</summary>
    public GRUOptions Options { get; }

    private static GRUOptions Checked(GRUOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
