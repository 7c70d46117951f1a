namespace Lstm.Runtime.Backends;

/// <summary>The GRU cell's fused pointwise steps (PyTorch's variant, gate order r, z, n).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IGruCellOps<T> where T : unmanaged
{
    /// <summary>
    /// One GRU forward step (the fused pointwise kernel, PyTorch's variant, gate order r, z, n):
    /// see <see cref="Lstm.Kernels.Cells.GruCellKernels"/>.
    /// <paramref name="acts"/> null selects the inference variant, which stores nothing.
    /// </summary>
    /// <remarks>
    /// <code>
    /// r = σ(xproj_r + b_ir + hproj_r + b_hr)   z = σ(xproj_z + b_iz + hproj_z + b_hz)
    /// n = tanh(xproj_n + b_in + r ⊙ (hproj_n + b_hn))   h = (1 − z) ⊙ n + z ⊙ hPrev
    /// </code>
    /// </remarks>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 3H] x_t W_ih^T, without bias.</param>
    /// <param name="hproj">[B, 3H] h_{t-1} W_hh^T, without bias.</param>
    /// <param name="biasIh">[3H], or null for bias=False.</param>
    /// <param name="biasHh">[3H], or null for bias=False.</param>
    /// <param name="hPrev">[B, H] h_{t-1}.</param>
    /// <param name="h">[B, H] h_t; may be the same slice as hPrev.</param>
    /// <param name="acts">[B, 4H] (training): r, z, n, hproj_n + b_hn; or null (inference).</param>
    void GruCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts);

    /// <summary>
    /// One GRU backward step (the fused pointwise-backward kernel). The full gradient of h_{t-1}
    /// is <paramref name="dhPrev"/> plus dgatesH · W_hh, which the layer adds with a β = 1 GEMM.
    /// </summary>
    /// <remarks>
    /// <code>
    /// dh = dy + dhRec
    /// dn = dh ⊙ (1 − z)   dz = dh ⊙ (hPrev − n)   dnp = dn ⊙ (1 − n²)   dr = dnp ⊙ (hproj_n + b_hn)
    /// dgatesX = [dr ⊙ r(1 − r), dz ⊙ z(1 − z), dnp]          // gradient of xproj, and of b_ih
    /// dgatesH = [dr ⊙ r(1 − r), dz ⊙ z(1 − z), dnp ⊙ r]      // gradient of hproj, and of b_hh
    /// dhPrev  = dh ⊙ z
    /// </code>
    /// </remarks>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dy">[B, H] gradient of h_t from the layer above (or the loss).</param>
    /// <param name="dhRec">[B, H] gradient of h_t through step t+1 (h_n's at the last step).</param>
    /// <param name="acts">[B, 4H] stored activations of step t (r, z, n, hproj_n + b_hn).</param>
    /// <param name="hPrev">[B, H] h_{t-1}.</param>
    /// <param name="dgatesX">[B, 3H] out.</param>
    /// <param name="dgatesH">[B, 3H] out.</param>
    /// <param name="dhPrev">[B, H] out: the direct part of the gradient of h_{t-1}; may be dy or dhRec.</param>
    void GruCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev);
}
