namespace Lstm.Runtime.Backends;

/// <summary>Optimizer updates and the sums of gradient clipping (see <see cref="Lstm.Kernels.OptimizerKernels"/>).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IOptimizerOps<T> where T : unmanaged
{
    /// <summary>
    /// One fused SGD update, <c>torch.optim.SGD</c>: g = ∇p + wd·p; with μ ≠ 0,
    /// buf = g (first step) or μ·buf + (1 - dampening)·g, then g = g + μ·buf (nesterov) or buf;
    /// p = p - lr·g.
    /// </summary>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="momentumBuffer">[n] momentum buffer, updated; null when μ = 0.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">μ.</param>
    /// <param name="dampening">Dampening.</param>
    /// <param name="weightDecay">L2 weight decay.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="firstStep">True on the buffer's first update (it starts as g, undamped).</param>
    void SgdUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep);

    /// <summary>
    /// One fused Adam/AdamW update: p = decay·p; g = ∇p + wdL2·p; m = m + (1 - β1)(g - m);
    /// v = β2·v + (1 - β2)·g²; p = p - stepSize·m / (√v / bias2Sqrt + ε).
    /// </summary>
    /// <param name="param">[n] parameter, updated.</param>
    /// <param name="grad">[n] gradient.</param>
    /// <param name="expAvg">[n] first moment, updated.</param>
    /// <param name="expAvgSq">[n] second moment, updated.</param>
    /// <param name="stepSize">lr / (1 - β1^t).</param>
    /// <param name="oneMinusBeta1">1 - β1, computed in float64.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="oneMinusBeta2">1 - β2, computed in float64.</param>
    /// <param name="eps">ε (outside the square root).</param>
    /// <param name="weightDecayL2">Adam's L2 weight decay (0 for AdamW).</param>
    /// <param name="decay">AdamW's 1 - lr·wd (1 for Adam).</param>
    /// <param name="bias2Sqrt">√(1 - β2^t).</param>
    void AdamUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt);

    /// <summary>
    /// Partial sums of squares: partials[j] = Σ x[e]² over e ≡ j (mod P), P = partials.Length.
    /// The sum of the partials is Σ x².
    /// </summary>
    /// <param name="x">[n] values.</param>
    /// <param name="partials">[P] out, P ≥ 1.</param>
    void SumSquares(BufferSlice<T> x, BufferSlice<T> partials);

    /// <summary>x = α·x.</summary>
    /// <param name="alpha">α.</param>
    /// <param name="x">[n], updated.</param>
    void Scale(T alpha, BufferSlice<T> x);
}
