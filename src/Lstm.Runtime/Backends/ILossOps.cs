namespace Lstm.Runtime.Backends;

/// <summary>Fused losses with per-row masks (see <see cref="Lstm.Kernels.LossKernels"/>): each row's loss and the gradient in one pass.</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface ILossOps<T> where T : unmanaged
{
    /// <summary>
    /// Masked mean squared error over rows: rowLoss[r] = Σ_j (p[r,j] - y[r,j])² and
    /// grad = 2·scale·(p - y), both zero on rows whose mask is 0.
    /// </summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="prediction">[N, C].</param>
    /// <param name="target">[N, C].</param>
    /// <param name="mask">[N] of 1 (counts) or 0 (padding), or null for no mask.</param>
    /// <param name="scale">1 / (unmasked rows · C).</param>
    /// <param name="grad">[N, C] out.</param>
    /// <param name="rowLoss">[N] out.</param>
    void MseLoss(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary>
    /// Cross-entropy over logits as one max-subtracted log-softmax: rowLoss[r] = -log softmax(x[r])[t_r],
    /// grad[r] = scale·(softmax(x[r]) - onehot(t_r)), both zero on rows whose mask is 0.
    /// </summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">[N] class indices in [0, C) stored as exact integers of T.</param>
    /// <param name="mask">[N] of 1 (counts) or 0 (padding), or null for no mask.</param>
    /// <param name="scale">1 / unmasked rows.</param>
    /// <param name="grad">[N, C] out.</param>
    /// <param name="rowLoss">[N] out.</param>
    void CrossEntropyLoss(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary>
    /// Connectionist temporal classification, <c>torch.nn.functional.ctc_loss</c> with blank 0 (see
    /// <see cref="Lstm.Kernels.CtcKernels"/>): rowLoss[b] = −log p(target_b | log-probabilities of row b's
    /// first inputLengths[b] steps), and grad = scale_b·(e^lp − γ), the gradient PyTorch's backward gives
    /// for the log-probabilities (d loss / d logits when lp = log_softmax(logits)); 0 past a row's input
    /// length. A row no alignment can produce gets +∞ and a NaN gradient, or 0 and 0 with
    /// <see cref="CtcFlags.ZeroInfinity"/>.
    /// </summary>
    /// <param name="time">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="classes">C, class 0 the blank.</param>
    /// <param name="logProbs">[T, B, C] log-probabilities (or [B, T, C] with <see cref="CtcFlags.BatchFirst"/>).</param>
    /// <param name="targets">[B, S] labels in [1, C), row b's first targetLengths[b] used.</param>
    /// <param name="maxTargetLength">S.</param>
    /// <param name="inputLengths">[B] steps of each row, in [0, T].</param>
    /// <param name="targetLengths">[B] labels of each row, in [0, S].</param>
    /// <param name="scale">The gradient's scale for every row (further divided by the row's target length with <see cref="CtcFlags.MeanOverTargetLength"/>).</param>
    /// <param name="flags">Layout, per-row mean and zero-infinity.</param>
    /// <param name="grad">Same shape as <paramref name="logProbs"/>, out.</param>
    /// <param name="rowLoss">[B] out: each row's negative log-likelihood, unscaled.</param>
    void CtcLoss(
        int time, int batch, int classes, BufferSlice<T> logProbs, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, T scale, CtcFlags flags, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary>
    /// The log-softmax of each row (see <see cref="Lstm.Kernels.SoftmaxKernels"/>): output[r, j] =
    /// x[r, j] − max_r − ln Σ_k e^(x[r, k] − max_r), numerically stable for any finite logits.
    /// </summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C (≥ 1 when N &gt; 0).</param>
    /// <param name="input">[N, C].</param>
    /// <param name="output">[N, C] out; a buffer other than the input.</param>
    void LogSoftmax(int rows, int classes, BufferSlice<T> input, BufferSlice<T> output);
}
