using ILGPU;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The fused pointwise kernels of one LSTM time step, PyTorch's gate order i, f, g, o.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, H hidden size. Every kernel runs one thread per element of
/// [B, H]: index e = b·H + j touches gate columns j, H + j, 2H + j and 3H + j of row b.
/// <code>
/// gates = xproj + b_ih + hproj + b_hh            // [B, 4H], xproj = x_t W_ih^T, hproj = h_{t-1} W_hh^T
/// i = σ(gates[:, 0:H])   f = σ(gates[:, H:2H])   g = tanh(gates[:, 2H:3H])   o = σ(gates[:, 3H:4H])
/// c_t = f ⊙ c_{t-1} + i ⊙ g
/// h_t = o ⊙ tanh(c_t)
/// </code>
/// Each kernel is launched over min(B·H, cap) threads and loops with the given stride, so one
/// launch covers any size: a GPU launches one thread per element (the loop runs once), while
/// ILGPU's CPU accelerator, where every simulated thread costs an OS-thread hand-off, launches one
/// group and lets each thread walk many elements.
/// The training forward stores exactly what <see cref="Backward{T, TOps}"/> needs: the four
/// activations (i, f, g, o) per step; c_t is kept by the caller as the step's cell state. The
/// inference forward stores nothing. The backward recomputes tanh(c_t) rather than storing it.
/// </remarks>
internal static class LstmCellKernels
{
    /// <summary>
    /// Forward step, training variant: as <see cref="ForwardInference{T, TOps}"/> and also
    /// writes the activations i, f, g, o to <paramref name="acts"/> ([B, 4H], gate blocks like
    /// <paramref name="xproj"/>).
    /// </summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="xproj">x_t W_ih^T: [B, 4H].</param>
    /// <param name="hproj">h_{t-1} W_hh^T: [B, 4H].</param>
    /// <param name="biasIh">b_ih: [4H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="biasHh">b_hh: [4H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="cPrev">c_{t-1}: [B, H].</param>
    /// <param name="c">c_t: [B, H]; may not alias <paramref name="cPrev"/> only if a caller needs c_{t-1} afterwards (aliasing is safe for the kernel).</param>
    /// <param name="h">h_t: [B, H].</param>
    /// <param name="acts">i, f, g, o: [B, 4H].</param>
    /// <param name="hidden">H.</param>
    /// <param name="hasBias">1 to add the biases, 0 for bias=False.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void ForwardTraining<T, TOps>(
        Index1D index, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> cPrev, ArrayView<T> c, ArrayView<T> h, ArrayView<T> acts, int hidden, int hasBias, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            Forward<T, TOps>(e, xproj, hproj, biasIh, biasHh, cPrev, c, h, acts, hidden, hasBias, true);
    }

    /// <summary>
    /// Forward step, inference variant: adds the projections and biases, applies the
    /// activations and updates c and h; stores nothing else.
    /// </summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="xproj">x_t W_ih^T: [B, 4H].</param>
    /// <param name="hproj">h_{t-1} W_hh^T: [B, 4H].</param>
    /// <param name="biasIh">b_ih: [4H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="biasHh">b_hh: [4H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="cPrev">c_{t-1}: [B, H].</param>
    /// <param name="c">c_t: [B, H]; may be the same buffer as <paramref name="cPrev"/>.</param>
    /// <param name="h">h_t: [B, H].</param>
    /// <param name="hidden">H.</param>
    /// <param name="hasBias">1 to add the biases, 0 for bias=False.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void ForwardInference<T, TOps>(
        Index1D index, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> cPrev, ArrayView<T> c, ArrayView<T> h, int hidden, int hasBias, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            Forward<T, TOps>(e, xproj, hproj, biasIh, biasHh, cPrev, c, h, default, hidden, hasBias, false);
    }

    private static void Forward<T, TOps>(
        int e, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> cPrev, ArrayView<T> c, ArrayView<T> h, ArrayView<T> acts, int hidden, int hasBias, bool training)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int b = e / hidden;
        int j = e - b * hidden;
        long row = (long)b * 4 * hidden;
        T gi = ops.Add(xproj[row + j], hproj[row + j]);
        T gf = ops.Add(xproj[row + hidden + j], hproj[row + hidden + j]);
        T gg = ops.Add(xproj[row + 2 * hidden + j], hproj[row + 2 * hidden + j]);
        T go = ops.Add(xproj[row + 3 * hidden + j], hproj[row + 3 * hidden + j]);
        if (hasBias != 0)
        {
            gi = ops.Add(gi, ops.Add(biasIh[j], biasHh[j]));
            gf = ops.Add(gf, ops.Add(biasIh[hidden + j], biasHh[hidden + j]));
            gg = ops.Add(gg, ops.Add(biasIh[2 * hidden + j], biasHh[2 * hidden + j]));
            go = ops.Add(go, ops.Add(biasIh[3 * hidden + j], biasHh[3 * hidden + j]));
        }

        Cell<T, TOps>(e, row, j, hidden, gi, gf, gg, go, cPrev, c, h, acts, training);
    }

    /// <summary>
    /// The cell from the four gate pre-activations of element e (row b, unit j): c_t, h_t and,
    /// when training, the activations. Shared with <see cref="PersistentLstmKernels"/> so both
    /// paths round the same operations in the same order.
    /// </summary>
    internal static void Cell<T, TOps>(
        int e, long row, int j, int hidden, T gi, T gf, T gg, T go,
        ArrayView<T> cPrev, ArrayView<T> c, ArrayView<T> h, ArrayView<T> acts, bool training)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        T i = ops.Sigmoid(gi);
        T f = ops.Sigmoid(gf);
        T g = ops.Tanh(gg);
        T o = ops.Sigmoid(go);
        T cNew = ops.MulAdd(f, cPrev[e], ops.Mul(i, g));
        c[e] = cNew;
        h[e] = ops.Mul(o, ops.Tanh(cNew));
        if (training)
        {
            acts[row + j] = i;
            acts[row + hidden + j] = f;
            acts[row + 2 * hidden + j] = g;
            acts[row + 3 * hidden + j] = o;
        }
    }

    /// <summary>
    /// Backward step: from the gradient reaching h_t and c_t and the stored activations, the
    /// gradients of the four gate pre-activations and of c_{t-1}, in one pass.
    /// </summary>
    /// <remarks>
    /// <code>
    /// dh = dy + dhRec
    /// dc' = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))
    /// d_i = dc' ⊙ g ⊙ i(1-i)   d_f = dc' ⊙ c_{t-1} ⊙ f(1-f)   d_g = dc' ⊙ i ⊙ (1-g²)   d_o = dh ⊙ tanh(c_t) ⊙ o(1-o)
    /// dc_{t-1} = dc' ⊙ f
    /// </code>
    /// </remarks>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="dy">Gradient of the layer's output h_t from above: [B, H].</param>
    /// <param name="dhRec">Gradient of h_t through the next step (or of h_n at the last step): [B, H].</param>
    /// <param name="dc">In: gradient of c_t; out: gradient of c_{t-1}. [B, H].</param>
    /// <param name="acts">i, f, g, o of this step: [B, 4H].</param>
    /// <param name="c">c_t: [B, H].</param>
    /// <param name="cPrev">c_{t-1}: [B, H].</param>
    /// <param name="dgates">Out: gradient of the gate pre-activations, [B, 4H].</param>
    /// <param name="hidden">H.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Backward<T, TOps>(
        Index1D index, ArrayView<T> dy, ArrayView<T> dhRec, ArrayView<T> dc, ArrayView<T> acts,
        ArrayView<T> c, ArrayView<T> cPrev, ArrayView<T> dgates, int hidden, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            BackwardElement<T, TOps>(e, dy, dhRec, dc, acts, c, cPrev, dgates, hidden);
    }

    /// <summary>
    /// The backward step of element e (row b, unit j) of [B, H]. Shared with
    /// <see cref="PersistentLstmBackwardKernels"/> so both paths round the same operations in the same order.
    /// </summary>
    internal static void BackwardElement<T, TOps>(
        int e, ArrayView<T> dy, ArrayView<T> dhRec, ArrayView<T> dc, ArrayView<T> acts,
        ArrayView<T> c, ArrayView<T> cPrev, ArrayView<T> dgates, int hidden)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int b = e / hidden;
        int j = e - b * hidden;
        long row = (long)b * 4 * hidden;
        T i = acts[row + j];
        T f = acts[row + hidden + j];
        T g = acts[row + 2 * hidden + j];
        T o = acts[row + 3 * hidden + j];
        T tc = ops.Tanh(c[e]);
        T dh = ops.Add(dy[e], dhRec[e]);
        T one = ops.One;
        T dcTotal = ops.MulAdd(ops.Mul(dh, o), ops.Sub(one, ops.Mul(tc, tc)), dc[e]);
        dgates[row + j] = ops.Mul(ops.Mul(dcTotal, g), ops.Mul(i, ops.Sub(one, i)));
        dgates[row + hidden + j] = ops.Mul(ops.Mul(dcTotal, cPrev[e]), ops.Mul(f, ops.Sub(one, f)));
        dgates[row + 2 * hidden + j] = ops.Mul(ops.Mul(dcTotal, i), ops.Sub(one, ops.Mul(g, g)));
        dgates[row + 3 * hidden + j] = ops.Mul(ops.Mul(dh, tc), ops.Mul(o, ops.Sub(one, o)));
        dc[e] = ops.Mul(dcTotal, f);
    }
}
