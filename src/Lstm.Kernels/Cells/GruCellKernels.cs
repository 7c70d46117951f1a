using ILGPU;

namespace Lstm.Kernels.Cells;

/// <summary>
/// The fused pointwise kernels of one GRU time step, PyTorch's variant and gate order r, z, n.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, H hidden size. Every kernel runs one thread per element of
/// [B, H]: index e = b·H + j touches gate columns j, H + j and 2H + j of row b.
/// <code>
/// xproj = x_t W_ih^T, hproj = h_{t-1} W_hh^T          // [B, 3H], no biases
/// r = σ(xproj_r + b_ir + hproj_r + b_hr)
/// z = σ(xproj_z + b_iz + hproj_z + b_hz)
/// n = tanh(xproj_n + b_in + r ⊙ (hproj_n + b_hn))
/// h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
/// </code>
/// The training forward stores what <see cref="Backward{T, TOps}"/> needs, per row of acts
/// [B, 4H]: r, z, n and hn = hproj_n + b_hn (the term r multiplies). The inference forward stores
/// nothing. Kernels loop with a stride like <see cref="LstmCellKernels"/>.
/// </remarks>
internal static class GruCellKernels
{
    /// <summary>
    /// Forward step, training variant: as <see cref="ForwardInference{T, TOps}"/> and also writes
    /// r, z, n, hn to <paramref name="acts"/> ([B, 4H]).
    /// </summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="xproj">x_t W_ih^T: [B, 3H].</param>
    /// <param name="hproj">h_{t-1} W_hh^T: [B, 3H].</param>
    /// <param name="biasIh">b_ih: [3H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="biasHh">b_hh: [3H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="hPrev">h_{t-1}: [B, H].</param>
    /// <param name="h">h_t: [B, H]; may be the same buffer as <paramref name="hPrev"/>.</param>
    /// <param name="acts">r, z, n, hn: [B, 4H].</param>
    /// <param name="hidden">H.</param>
    /// <param name="hasBias">1 to add the biases, 0 for bias=False.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void ForwardTraining<T, TOps>(
        Index1D index, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> hPrev, ArrayView<T> h, ArrayView<T> acts, int hidden, int hasBias, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            Forward<T, TOps>(e, xproj, hproj, biasIh, biasHh, hPrev, h, acts, hidden, hasBias, true);
    }

    /// <summary>
    /// Forward step, inference variant: adds the projections and biases, applies the gates and
    /// updates h; stores nothing else.
    /// </summary>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="xproj">x_t W_ih^T: [B, 3H].</param>
    /// <param name="hproj">h_{t-1} W_hh^T: [B, 3H].</param>
    /// <param name="biasIh">b_ih: [3H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="biasHh">b_hh: [3H]; read only when <paramref name="hasBias"/> is 1.</param>
    /// <param name="hPrev">h_{t-1}: [B, H].</param>
    /// <param name="h">h_t: [B, H]; may be the same buffer as <paramref name="hPrev"/>.</param>
    /// <param name="hidden">H.</param>
    /// <param name="hasBias">1 to add the biases, 0 for bias=False.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void ForwardInference<T, TOps>(
        Index1D index, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> hPrev, ArrayView<T> h, int hidden, int hasBias, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            Forward<T, TOps>(e, xproj, hproj, biasIh, biasHh, hPrev, h, default, hidden, hasBias, false);
    }

    private static void Forward<T, TOps>(
        int e, ArrayView<T> xproj, ArrayView<T> hproj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> hPrev, ArrayView<T> h, ArrayView<T> acts, int hidden, int hasBias, bool training)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        int b = e / hidden;
        int j = e - b * hidden;
        long row = (long)b * 3 * hidden;
        Cell<T, TOps>(e, b, j, hidden, xproj, hproj[row + j], hproj[row + hidden + j], hproj[row + 2 * hidden + j],
            biasIh, biasHh, hPrev, h, acts, hasBias, training);
    }

    /// <summary>
    /// The cell of element e = b·H + j from its three recurrent projections (the step kernels read
    /// them from hproj, the persistent loop from shared memory): the gates, h_t and, when training, the activations.
    /// </summary>
    internal static void Cell<T, TOps>(
        int e, int b, int j, int hidden, ArrayView<T> xproj, T hr, T hz, T hnProj, ArrayView<T> biasIh, ArrayView<T> biasHh,
        ArrayView<T> hPrev, ArrayView<T> h, ArrayView<T> acts, int hasBias, bool training)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        long row = (long)b * 3 * hidden;
        T ar = ops.Add(xproj[row + j], hr);
        T az = ops.Add(xproj[row + hidden + j], hz);
        T xn = xproj[row + 2 * hidden + j];
        T hn = hnProj;
        if (hasBias != 0)
        {
            ar = ops.Add(ar, ops.Add(biasIh[j], biasHh[j]));
            az = ops.Add(az, ops.Add(biasIh[hidden + j], biasHh[hidden + j]));
            xn = ops.Add(xn, biasIh[2 * hidden + j]);
            hn = ops.Add(hn, biasHh[2 * hidden + j]);
        }

        T r = ops.Sigmoid(ar);
        T z = ops.Sigmoid(az);
        T n = ops.Tanh(ops.MulAdd(r, hn, xn));
        T hp = hPrev[e];
        // (1 − z)·n + z·h_{t-1} = n + z·(h_{t-1} − n)
        h[e] = ops.MulAdd(z, ops.Sub(hp, n), n);
        if (training)
        {
            long arow = (long)b * 4 * hidden;
            acts[arow + j] = r;
            acts[arow + hidden + j] = z;
            acts[arow + 2 * hidden + j] = n;
            acts[arow + 3 * hidden + j] = hn;
        }
    }

    /// <summary>
    /// Backward step: from the gradient reaching h_t and the stored activations, the gradients of
    /// the input and recurrent projections and the direct part of the gradient of h_{t-1}.
    /// </summary>
    /// <remarks>
    /// <code>
    /// dh = dy + dhRec
    /// dn = dh ⊙ (1 − z)   dz = dh ⊙ (h_{t-1} − n)   dnp = dn ⊙ (1 − n²)   dr = dnp ⊙ hn
    /// dgatesX = [dr ⊙ r(1 − r), dz ⊙ z(1 − z), dnp]          // of xproj and of b_ih
    /// dgatesH = [dr ⊙ r(1 − r), dz ⊙ z(1 − z), dnp ⊙ r]      // of hproj and of b_hh
    /// dhPrev = dh ⊙ z                                         // the caller adds dgatesH · W_hh
    /// </code>
    /// </remarks>
    /// <param name="index">Element of [B, H].</param>
    /// <param name="dy">Gradient of h_t from above: [B, H].</param>
    /// <param name="dhRec">Gradient of h_t through the next step (or of h_n at the last step): [B, H].</param>
    /// <param name="acts">r, z, n, hn of this step: [B, 4H].</param>
    /// <param name="hPrev">h_{t-1}: [B, H].</param>
    /// <param name="dgatesX">Out: [B, 3H].</param>
    /// <param name="dgatesH">Out: [B, 3H].</param>
    /// <param name="dhPrev">Out: [B, H]; may be the same buffer as <paramref name="dy"/> or <paramref name="dhRec"/>.</param>
    /// <param name="hidden">H.</param>
    /// <param name="count">B·H.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Backward<T, TOps>(
        Index1D index, ArrayView<T> dy, ArrayView<T> dhRec, ArrayView<T> acts, ArrayView<T> hPrev,
        ArrayView<T> dgatesX, ArrayView<T> dgatesH, ArrayView<T> dhPrev, int hidden, int count, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        for (int e = index; e < count; e += stride)
            BackwardElement<T, TOps>(e, dy, dhRec, acts, hPrev, dgatesX, dgatesH, dhPrev, hidden);
    }

    /// <summary>
    /// The backward step of element e = b·H + j (the step kernel and the persistent backward loop
    /// share it); <paramref name="dhPrev"/> may be <paramref name="dhRec"/>: element e is read before it is written.
    /// </summary>
    internal static void BackwardElement<T, TOps>(
        int e, ArrayView<T> dy, ArrayView<T> dhRec, ArrayView<T> acts, ArrayView<T> hPrev,
        ArrayView<T> dgatesX, ArrayView<T> dgatesH, ArrayView<T> dhPrev, int hidden)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        int b = e / hidden;
        int j = e - b * hidden;
        long arow = (long)b * 4 * hidden;
        long row = (long)b * 3 * hidden;
        T one = ops.One;
        T r = acts[arow + j];
        T z = acts[arow + hidden + j];
        T n = acts[arow + 2 * hidden + j];
        T hn = acts[arow + 3 * hidden + j];
        T dh = ops.Add(dy[e], dhRec[e]);
        T dn = ops.Mul(dh, ops.Sub(one, z));
        T dz = ops.Mul(dh, ops.Sub(hPrev[e], n));
        T dnp = ops.Mul(dn, ops.Sub(one, ops.Mul(n, n)));
        T dr = ops.Mul(dnp, hn);
        T dar = ops.Mul(dr, ops.Mul(r, ops.Sub(one, r)));
        T daz = ops.Mul(dz, ops.Mul(z, ops.Sub(one, z)));
        dgatesX[row + j] = dar;
        dgatesX[row + hidden + j] = daz;
        dgatesX[row + 2 * hidden + j] = dnp;
        dgatesH[row + j] = dar;
        dgatesH[row + hidden + j] = daz;
        dgatesH[row + 2 * hidden + j] = ops.Mul(dnp, r);
        dhPrev[e] = ops.Mul(dh, z);
    }
}
