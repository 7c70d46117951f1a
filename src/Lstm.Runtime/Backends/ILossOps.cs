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
}
