using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Fused optimizer updates: one launch reads a parameter, its gradient and its optimizer state
/// and writes the new parameter and state, with PyTorch's formulas (<c>torch.optim.SGD</c>,
/// <c>Adam</c>, <c>AdamW</c>), plus the two halves of <c>clip_grad_norm_</c>: a sum of squares
/// and a scale.
/// </summary>
/// <remarks>
/// Every kernel takes the element count through its views and the number of threads launched
/// (stride) and loops, as <c>LstmCellKernels</c> explains. Scalars that depend only on the
/// step count (bias corrections, step sizes) are computed on the host in float64 and passed in.
/// Square roots are taken in float64 and rounded, which for float32 is the correctly rounded root
/// on every back end.
/// </remarks>
internal static class OptimizerKernels
{
    /// <summary>
    /// SGD with momentum, <c>torch.optim.SGD</c>:
    /// g = ∇p + wd·p; buf = g on the first step, else buf = μ·buf + (1 - dampening)·g;
    /// g = g + μ·buf (nesterov) or g = buf; p = p - lr·g. With μ = 0 no buffer is read or written.
    /// </summary>
    /// <param name="index">Element.</param>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="buf">[n] momentum buffer, updated (unused when <paramref name="momentum"/> is 0).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">μ.</param>
    /// <param name="dampening">Dampening of the gradient in the buffer (not applied on the first step).</param>
    /// <param name="weightDecay">L2 weight decay added to the gradient.</param>
    /// <param name="flags">Bit 0: nesterov; bit 1: first step (the buffer starts as g); bit 2: momentum on.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Sgd<T, TOps>(
        Index1D index, ArrayView<T> param, ArrayView<T> grad, ArrayView<T> buf, T lr, T momentum, T dampening, T weightDecay, int flags, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        bool nesterov = (flags & 1) != 0;
        bool first = (flags & 2) != 0;
        bool useMomentum = (flags & 4) != 0;
        for (long e = index; e < param.Length; e += stride)
        {
            T p = param[e];
            T g = ops.MulAdd(weightDecay, p, grad[e]);
            if (useMomentum)
            {
                T b = first ? g : ops.MulAdd(momentum, buf[e], ops.Mul(ops.Sub(ops.One, dampening), g));
                buf[e] = b;
                g = nesterov ? ops.MulAdd(momentum, b, g) : b;
            }

            param[e] = ops.Sub(p, ops.Mul(lr, g));
        }
    }

    /// <summary>
    /// Adam / AdamW, <c>torch.optim.Adam</c> and <c>AdamW</c> (no amsgrad):
    /// p = decay·p (AdamW: decay = 1 - lr·wd); g = ∇p + wdL2·p (Adam's L2 decay);
    /// m = m + (1 - β1)(g - m); v = β2·v + (1 - β2)·g²;
    /// p = p - stepSize · m / (√v / √(1 - β2^t) + ε), stepSize = lr / (1 - β1^t).
    /// ε is added outside the square root.
    /// </summary>
    /// <param name="index">Element.</param>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="expAvg">[n] first moment m, updated.</param>
    /// <param name="expAvgSq">[n] second moment v, updated.</param>
    /// <param name="stepSize">lr / (1 - β1^t).</param>
    /// <param name="oneMinusBeta1">1 - β1 (computed in float64, so a float32 kernel sees the rounded difference, not the difference of rounded values).</param>
    /// <param name="beta2">β2.</param>
    /// <param name="oneMinusBeta2">1 - β2.</param>
    /// <param name="eps">ε.</param>
    /// <param name="weightDecayL2">Adam's weight decay, added to the gradient (0 for AdamW).</param>
    /// <param name="decay">AdamW's decoupled factor 1 - lr·wd (1 for Adam).</param>
    /// <param name="bias2Sqrt">√(1 - β2^t).</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Adam<T, TOps>(
        Index1D index, ArrayView<T> param, ArrayView<T> grad, ArrayView<T> expAvg, ArrayView<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < param.Length; e += stride)
        {
            T p = ops.Mul(decay, param[e]);
            T g = ops.MulAdd(weightDecayL2, param[e], grad[e]);
            T m = ops.MulAdd(oneMinusBeta1, ops.Sub(g, expAvg[e]), expAvg[e]);
            T v = ops.MulAdd(oneMinusBeta2, ops.Mul(g, g), ops.Mul(beta2, expAvgSq[e]));
            expAvg[e] = m;
            expAvgSq[e] = v;
            T root = ops.FromDouble(Math.Sqrt(ops.ToDouble(v)));
            T denom = ops.Add(ops.Div(root, bias2Sqrt), eps);
            param[e] = ops.Sub(p, ops.Mul(stepSize, ops.Div(m, denom)));
        }
    }

    /// <summary>
    /// Partial sums of squares: partials[j] = Σ x[e]² over e ≡ j (mod P), P = partials' length.
    /// The host adds the P partials (in float64); each sum runs in index order, so the result does
    /// not depend on the launch.
    /// </summary>
    /// <param name="index">Partial j.</param>
    /// <param name="x">[n] values.</param>
    /// <param name="partials">[P] out.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void SumSquares<T, TOps>(Index1D index, ArrayView<T> x, ArrayView<T> partials, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        long parts = partials.Length;
        for (long j = index; j < parts; j += stride)
        {
            T acc = ops.Zero;
            for (long e = j; e < x.Length; e += parts)
                acc = ops.MulAdd(x[e], x[e], acc);
            partials[j] = acc;
        }
    }

    /// <summary>x = α·x (gradient clipping's scale).</summary>
    /// <param name="index">Element.</param>
    /// <param name="x">[n], updated.</param>
    /// <param name="alpha">α.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Scale<T, TOps>(Index1D index, ArrayView<T> x, T alpha, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < x.Length; e += stride)
            x[e] = ops.Mul(alpha, x[e]);
    }
}
