using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends;

/// <summary>The plain (Elman) RNN cell's pointwise steps, tanh or ReLU.</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IRnnCellOps<T> where T : unmanaged
{
    /// <summary>
    /// One RNN forward step: h = act(xproj + b_ih + hproj + b_hh), act = tanh or ReLU (see
    /// <see cref="RnnCellKernels"/>). Nothing is stored: the backward pass reads h.
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="xproj">[B, H] x_t W_ih^T, without bias.</param>
    /// <param name="hproj">[B, H] h_{t-1} W_hh^T, without bias.</param>
    /// <param name="biasIh">[H], or null for bias=False.</param>
    /// <param name="biasHh">[H], or null for bias=False.</param>
    /// <param name="h">[B, H] out: h_t; may be xproj or hproj.</param>
    void RnnCellForward(
        int batch, int hidden, bool relu, BufferSlice<T> xproj, BufferSlice<T> hproj,
        BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, BufferSlice<T> h);

    /// <summary>
    /// One RNN backward step: dgates = (dy + dhRec) ⊙ act'(h), with tanh' = 1 − h² and
    /// relu' = h &gt; 0 ? 1 : 0. dgates is the gradient of xproj, of hproj and of both biases.
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="dy">[B, H] gradient of h_t from the layer above (or the loss).</param>
    /// <param name="dhRec">[B, H] gradient of h_t through step t+1 (h_n's at the last step).</param>
    /// <param name="h">[B, H] h_t.</param>
    /// <param name="dgates">[B, H] out; may be dy or dhRec.</param>
    void RnnCellBackward(
        int batch, int hidden, bool relu, BufferSlice<T> dy, BufferSlice<T> dhRec,
        BufferSlice<T> h, BufferSlice<T> dgates);
}
