using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Connectionist temporal classification, <c>torch.nn.CTCLoss(blank=0, reduction, zero_infinity)</c>
/// over log-probabilities: each batch row's negative log-likelihood of its label sequence summed over
/// every alignment (labels separated by optional blanks, repeats collapsed), by one device kernel per
/// call that gives the row losses and the gradient.
/// </summary>
/// <remarks>
/// <para>Dimension letters: T steps, B batch rows, C classes with class 0 the blank.</para>
/// <para>
/// The gradient is PyTorch's for <c>log_probs</c>: e^lp − γ (γ the occupancy of each class at each
/// step), scaled by the reduction. That is d loss / d logits when the log-probabilities are
/// <c>log_softmax(logits)</c>, so a network's logits take it as is after a log-softmax.
/// </para>
/// </remarks>
public static class CtcLoss
{
    /// <summary>The reduced loss, each row's loss and the gradient.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbs">[T, B, C] log-probabilities (or [B, T, C] with <paramref name="batchFirst"/>).</param>
    /// <param name="targets">Each row's labels in [1, C).</param>
    /// <param name="inputLengths">Each row's steps in [0, T], or null for T everywhere.</param>
    /// <param name="reduction">Mean (PyTorch's default: each row's loss over its target length, then the mean over rows), sum or none.</param>
    /// <param name="zeroInfinity">A row no alignment can produce counts 0 (gradient 0) instead of +∞ (gradient NaN).</param>
    /// <param name="batchFirst">The input and gradient are [B, T, C].</param>
    /// <returns>The loss (for none the sum of the rows, whose gradient is returned), the row losses, and the gradient, which the caller disposes.</returns>
    public static (double Loss, double[] RowLosses, Tensor<T> Grad) Compute<T>(
        Tensor<T> logProbs, IReadOnlyList<int[]> targets, int[]? inputLengths = null,
        CtcReduction reduction = CtcReduction.Mean, bool zeroInfinity = false, bool batchFirst = false) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(logProbs);
        ArgumentNullException.ThrowIfNull(targets);
        if (logProbs.Shape.Count != 3)
            throw new LstmException($"CTC loss: log-probabilities have shape {logProbs.ShapeString}, expected [T, B, C]{(batchFirst ? " batch first" : "")}");
        int time = logProbs.Shape[batchFirst ? 1 : 0];
        int batch = logProbs.Shape[batchFirst ? 0 : 1];
        int classes = logProbs.Shape[2];
        if (targets.Count != batch)
            throw new LstmException($"CTC loss: {targets.Count} target sequences for {batch} batch rows");
        if (inputLengths is not null && inputLengths.Length != batch)
            throw new LstmException($"CTC loss: {inputLengths.Length} input lengths for {batch} batch rows");
        int maxTarget = 0;
        foreach (var target in targets)
            maxTarget = Math.Max(maxTarget, target?.Length ?? throw new LstmException("CTC loss: a target sequence is null"));
        var padded = new int[batch * maxTarget];
        var targetLengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            targets[b].CopyTo(padded, b * maxTarget);
            targetLengths[b] = targets[b].Length;
        }

        var lengths = inputLengths ?? Enumerable.Repeat(time, batch).ToArray();
        var flags = (batchFirst ? CtcFlags.BatchFirst : CtcFlags.None)
            | (reduction == CtcReduction.Mean ? CtcFlags.MeanOverTargetLength : CtcFlags.None)
            | (zeroInfinity ? CtcFlags.ZeroInfinity : CtcFlags.None);
        double scale = reduction == CtcReduction.Mean && batch > 0 ? 1.0 / batch : 1.0;
        var grad = Tensor<T>.Zeros(logProbs.Device, [.. logProbs.Shape]);
        try
        {
            using var rowLoss = Tensor<T>.Zeros(logProbs.Device, batch);
            logProbs.Ops.CtcLoss(time, batch, classes, logProbs.Data, padded, maxTarget, lengths, targetLengths, Num<T>.From(scale), flags, grad.Data, rowLoss.Data);
            var rows = rowLoss.ToArray().Select(Num<T>.ToDouble).ToArray();
            double loss = 0;
            for (int b = 0; b < batch; b++)
                loss += reduction == CtcReduction.Mean ? rows[b] / Math.Max(1, targetLengths[b]) : rows[b];
            if (reduction == CtcReduction.Mean)
                loss = batch == 0 ? double.NaN : loss / batch;
            return (loss, rows, grad);
        }
        catch
        {
            grad.Dispose();
            throw;
        }
    }

    /// <summary>
    /// CTC over a network's logits [B·T, C] (row b·T + t, batch first): their log-softmax on the
    /// device (<c>ILossOps.LogSoftmax</c>), then <see cref="Compute"/>; the gradient is d loss / d logits [B·T, C].
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logits">[B·T, C].</param>
    /// <param name="batch">B.</param>
    /// <param name="targets">Each row's labels in [1, C).</param>
    /// <param name="inputLengths">Each row's steps in [0, T].</param>
    /// <param name="reduction">As for <see cref="Compute"/>.</param>
    /// <param name="zeroInfinity">As for <see cref="Compute"/>.</param>
    public static (double Loss, double[] RowLosses, Tensor<T> Grad) FromLogits<T>(
        Tensor<T> logits, int batch, IReadOnlyList<int[]> targets, int[] inputLengths, CtcReduction reduction = CtcReduction.Mean, bool zeroInfinity = false) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Shape.Count != 2 || batch < 1 || logits.Shape[0] % batch != 0)
            throw new LstmException($"CTC loss: logits have shape {logits.ShapeString}, expected [B·T, C] for B = {batch}");
        int rows = logits.Shape[0], classes = logits.Shape[1];
        using var logProbs = Tensor<T>.Zeros(logits.Device, batch, rows / batch, classes);
        logits.Ops.LogSoftmax(rows, classes, logits.Data, logProbs.Data);
        var (loss, rowLosses, grad) = Compute(logProbs, targets, inputLengths, reduction, zeroInfinity, batchFirst: true);
        using (grad)
        {
            var flat = Tensor<T>.Zeros(logits.Device, rows, classes);
            logits.Ops.Copy(grad.Data, flat.Data);
            return (loss, rowLosses, flat);
        }
    }
}
