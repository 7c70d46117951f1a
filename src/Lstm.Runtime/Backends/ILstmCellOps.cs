namespace Lstm.Runtime.Backends;

/// <summary>The LSTM cell's fused pointwise steps (gate order i, f, g, o); the GEMMs around them are <see cref="IGemmOps{T}"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface ILstmCellOps<T> where T : unmanaged
{
    /// <summary>
    /// One LSTM forward step (the fused pointwise kernel): see
    /// <see cref="Lstm.Kernels.Cells.LstmCellKernels"/>. <paramref name="acts"/> null selects the
    /// inference variant, which stores nothing.
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 4H].</param>
    /// <param name="hproj">[B, 4H].</param>
    /// <param name="biasIh">[4H], or null for bias=False.</param>
    /// <param name="biasHh">[4H], or null for bias=False.</param>
    /// <param name="cPrev">[B, H].</param>
    /// <param name="c">[B, H], may be cPrev.</param>
    /// <param name="h">[B, H].</param>
    /// <param name="acts">[B, 4H] (training) or null (inference).</param>
    void LstmCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts);

    /// <summary>One LSTM backward step (the fused pointwise-backward kernel).</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dy">[B, H] gradient of h_t from the layer above (or the loss).</param>
    /// <param name="dhRec">[B, H] gradient of h_t through step t+1 (h_n's at the last step).</param>
    /// <param name="dc">[B, H] in: gradient of c_t; out: gradient of c_{t-1}.</param>
    /// <param name="acts">[B, 4H] stored activations of step t.</param>
    /// <param name="c">[B, H] c_t.</param>
    /// <param name="cPrev">[B, H] c_{t-1}.</param>
    /// <param name="dgates">[B, 4H] out: gradient of the gate pre-activations.</param>
    void LstmCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates);
}
