namespace Lstm.Runtime.Backends;

/// <content>Losses, optimizer updates, gathers and embedding lookups: matching lengths and indices in range.</content>
internal abstract partial class DeviceOps<T>
{
    /// <inheritdoc/>
    public void MseLoss(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        CheckLossRows("MSE", rows, cols, prediction, target.Length, mask, grad, rowLoss);
        MseLossCore(rows, cols, prediction, target, mask, scale, grad, rowLoss);
    }

    /// <inheritdoc/>
    public void CrossEntropyLoss(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        CheckLossRows("cross-entropy", rows, classes, logits, targets.Length, mask, grad, rowLoss);
        if (rows > 0 && classes == 0)
            throw new LstmException("cross-entropy loss over 0 classes");
        CrossEntropyLossCore(rows, classes, logits, targets, mask, scale, grad, rowLoss);
    }

    /// <inheritdoc/>
    public void SgdUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep)
    {
        if (grad.Length != param.Length || (momentumBuffer is { } mb && mb.Length != param.Length))
            throw new LstmException($"SGD update: parameter of {param.Length} elements, gradient of {grad.Length}, buffer of {momentumBuffer?.Length}");
        SgdUpdateCore(param, grad, momentumBuffer, lr, momentum, dampening, weightDecay, nesterov, firstStep);
    }

    /// <inheritdoc/>
    public void AdamUpdate(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt)
    {
        if (grad.Length != param.Length || expAvg.Length != param.Length || expAvgSq.Length != param.Length)
            throw new LstmException($"Adam update: parameter of {param.Length} elements, gradient of {grad.Length}, moments of {expAvg.Length} and {expAvgSq.Length}");
        AdamUpdateCore(param, grad, expAvg, expAvgSq, stepSize, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecayL2, decay, bias2Sqrt);
    }

    /// <inheritdoc/>
    public void SumSquares(BufferSlice<T> x, BufferSlice<T> partials)
    {
        if (partials.Length == 0)
            throw new LstmException("sum of squares: the partials slice is empty");
        SumSquaresCore(x, partials);
    }

    /// <inheritdoc/>
    public abstract void Scale(T alpha, BufferSlice<T> x);

    /// <inheritdoc/>
    public void GatherRows(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination)
    {
        long count = (long)rowIndex.Length * cols;
        if (destination.Length != count)
            throw new ArgumentException($"gather of {rowIndex.Length} rows of {cols} into a slice of {destination.Length}");
        long sourceRows = cols == 0 ? 0 : source.Length / cols;
        foreach (int r in rowIndex)
        {
            if (r < 0 || r >= sourceRows)
                throw new ArgumentOutOfRangeException(nameof(rowIndex), $"row {r} outside a source of {sourceRows} rows");
        }

        GatherRowsCore(cols, rowIndex, source, destination);
    }

    /// <inheritdoc/>
    public void EmbeddingGather(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output)
    {
        if (vocab < 0 || dim < 0 || weight.Length != (long)vocab * dim || output.Length != indices.Length * dim)
            throw new LstmException($"embedding gather: table [{vocab}, {dim}] of {weight.Length} elements, {indices.Length} indices, output of {output.Length}");
        EmbeddingGatherCore(vocab, dim, weight, indices, output);
    }

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad)
    {
        if (vocab < 0 || dim < 0 || weightGrad.Length != (long)vocab * dim || dOutput.Length != indices.Length * dim)
            throw new LstmException($"embedding scatter-add: table [{vocab}, {dim}] of {weightGrad.Length} elements, {indices.Length} indices, gradient of {dOutput.Length}");
        EmbeddingScatterAddCore(vocab, dim, indices, dOutput, weightGrad);
    }

    /// <summary><see cref="MseLoss"/> with checked arguments.</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="prediction">[N, C].</param>
    /// <param name="target">[N, C].</param>
    /// <param name="mask">[N], or null.</param>
    /// <param name="scale">The gradient's scale.</param>
    /// <param name="grad">[N, C] out.</param>
    /// <param name="rowLoss">[N] out.</param>
    protected abstract void MseLossCore(int rows, int cols, BufferSlice<T> prediction, BufferSlice<T> target, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary><see cref="CrossEntropyLoss"/> with checked arguments.</summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">[N].</param>
    /// <param name="mask">[N], or null.</param>
    /// <param name="scale">The gradient's scale.</param>
    /// <param name="grad">[N, C] out.</param>
    /// <param name="rowLoss">[N] out.</param>
    protected abstract void CrossEntropyLossCore(int rows, int classes, BufferSlice<T> logits, BufferSlice<T> targets, BufferSlice<T>? mask, T scale, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary><see cref="SgdUpdate"/> with checked arguments.</summary>
    /// <param name="param">[n], updated.</param>
    /// <param name="grad">[n].</param>
    /// <param name="momentumBuffer">[n], updated; or null.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="momentum">μ.</param>
    /// <param name="dampening">Dampening.</param>
    /// <param name="weightDecay">L2 weight decay.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="firstStep">True on the buffer's first update.</param>
    protected abstract void SgdUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep);

    /// <summary><see cref="AdamUpdate"/> with checked arguments.</summary>
    /// <param name="param">[n], updated.</param>
    /// <param name="grad">[n].</param>
    /// <param name="expAvg">[n], updated.</param>
    /// <param name="expAvgSq">[n], updated.</param>
    /// <param name="stepSize">lr / (1 - β1^t).</param>
    /// <param name="oneMinusBeta1">1 - β1.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="oneMinusBeta2">1 - β2.</param>
    /// <param name="eps">ε.</param>
    /// <param name="weightDecayL2">Adam's L2 weight decay.</param>
    /// <param name="decay">AdamW's 1 - lr·wd.</param>
    /// <param name="bias2Sqrt">√(1 - β2^t).</param>
    protected abstract void AdamUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt);

    /// <summary><see cref="SumSquares"/> with checked arguments.</summary>
    /// <param name="x">[n].</param>
    /// <param name="partials">[P] out, P ≥ 1.</param>
    protected abstract void SumSquaresCore(BufferSlice<T> x, BufferSlice<T> partials);

    /// <summary><see cref="GatherRows"/> with checked arguments.</summary>
    /// <param name="cols">Row width.</param>
    /// <param name="rowIndex">The source row of each destination row, each in range.</param>
    /// <param name="source">[rows_src, cols].</param>
    /// <param name="destination">[rowIndex.Length, cols].</param>
    protected abstract void GatherRowsCore(int cols, ReadOnlySpan<int> rowIndex, BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary><see cref="EmbeddingGather"/> with checked arguments.</summary>
    /// <param name="vocab">V.</param>
    /// <param name="dim">E.</param>
    /// <param name="weight">[V, E].</param>
    /// <param name="indices">[N].</param>
    /// <param name="output">[N, E] out.</param>
    protected abstract void EmbeddingGatherCore(int vocab, int dim, BufferSlice<T> weight, BufferSlice<T> indices, BufferSlice<T> output);

    /// <summary><see cref="EmbeddingScatterAdd"/> with checked arguments.</summary>
    /// <param name="vocab">V.</param>
    /// <param name="dim">E.</param>
    /// <param name="indices">[N].</param>
    /// <param name="dOutput">[N, E].</param>
    /// <param name="weightGrad">[V, E], accumulated.</param>
    protected abstract void EmbeddingScatterAddCore(int vocab, int dim, BufferSlice<T> indices, BufferSlice<T> dOutput, BufferSlice<T> weightGrad);

    /// <summary>A loss's lengths: input and gradient [N, C], target [N, C] (MSE) or [N], row losses and mask [N].</summary>
    private static void CheckLossRows(string what, int rows, int cols, BufferSlice<T> a, long aLength, BufferSlice<T>? mask, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        long n = (long)rows * cols;
        if (rows < 0 || cols < 0 || a.Length != n || aLength != (what == "MSE" ? n : rows) || grad.Length != n || rowLoss.Length != rows
            || (mask is { } m && m.Length != rows))
            throw new LstmException($"{what} loss over [{rows}, {cols}]: input of {a.Length} elements, target of {aLength}, gradient of {grad.Length}, row losses of {rowLoss.Length}, mask of {mask?.Length}");
    }
}
