using ILGPU;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The fused pointwise kernels of one plain-RNN (Elman) time step.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, H hidden size. One thread per element e = b·H + j of [B, H].
/// <code>
/// h_t = act(xproj + b_ih + hproj + b_hh)          // xproj = x_t W_ih^T, hproj = h_{t-1} W_hh^T: [B, H]
/// dgates = (dy + dhRec) ⊙ act'(h_t)               // tanh' = 1 − h_t², relu' = h_t &gt; 0 ? 1 : 0
/// </code>
/// The backward pass reads act' from h_t, so no activation is stored: the forward pass has one
/// variant for training and inference. dgates is the gradient of xproj, of hproj and of both
/// biases. Kernels loop with a stride like <see cref="LstmCellKernels"/>.
/// </remarks>
internal static class RnnCellKernels
{
    /// <summary>Forward step: h = act(xproj + b_ih + hproj + b_hh).</summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="xproj">x_t W_ih^T: [B, H].</param>
    /// <param name="hproj">h_{t-1} W_hh^T: [B, H].</param>
    /// <param name="biasIh">b_ih: [H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="biasHh">b_hh: [H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="h">h_t: [B, H]; may be the same buffer as <paramref name="xproj"/> or <paramref name="hproj"/>.</param>
    /// <param name="hidden">H.</param>
    /// <param name="hasBias">1 to add the biases, 0 for bias=False.</param>
    /// <param name="relu">1 for ReLU, 0 for tanh (<c>RnnNonlinearity</c>).</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Forward<T, TOps>(
        Index1D index, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> h, int hidden, int hasBias, int relu, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            h[e] = Cell<T, TOps>(xproj[e], hproj[e], biasIh, biasHh, e % hidden, hasBias, relu);
    }

    /// <summary>
    /// h of one element from its input and recurrent projections: act(xproj + hproj + b_ih + b_hh)
    /// (the step kernel and the persistent loop share it).
    /// </summary>
    internal static T Cell<T, TOps>(T xproj, T hproj, ArrayView<T> biasIh, ArrayView<T> biasHh, int j, int hasBias, int relu)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T a = ops.Add(xproj, hproj);
        if (hasBias != 0)
            a = ops.Add(a, ops.Add(biasIh[j], biasHh[j]));
        return relu != 0 ? ops.Relu(a) : ops.Tanh(a);
    }

    /// <summary>Backward step: dgates = (dy + dhRec) ⊙ act'(h_t).</summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="dy">Gradient of h_t from above: [B, H].</param>
    /// <param name="dhRec">Gradient of h_t through the next step (or of h_n at the last step): [B, H].</param>
    /// <param name="h">h_t: [B, H].</param>
    /// <param name="dgates">Out: gradient of the pre-activation, [B, H]; may be the same buffer as <paramref name="dy"/> or <paramref name="dhRec"/>.</param>
    /// <param name="relu">1 for ReLU, 0 for tanh.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Backward<T, TOps>(
        Index1D index, ArrayView<T> dy, ArrayView<T> dhRec, ArrayView<T> h, ArrayView<T> dgates, int relu, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            dgates[e] = Gradient<T, TOps>(dy[e], dhRec[e], h[e], relu);
    }

    /// <summary>
    /// The gradient of one element's pre-activation: (dy + dhRec) ⊙ act'(h_t) (the step kernel and
    /// the persistent backward loop share it).
    /// </summary>
    internal static T Gradient<T, TOps>(T dy, T dhRec, T h, int relu)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T dh = ops.Add(dy, dhRec);
        return relu != 0
            ? (ops.Greater(h, ops.Zero) ? dh : ops.Zero)
            : ops.Mul(dh, ops.Sub(ops.One, ops.Mul(h, h)));
    }
}
