namespace Lstm.Runtime.Backends;

/// <content>The CTC loss: shapes, lengths in range and labels that are classes other than the blank.</content>
internal abstract partial class DeviceOps<T>
{
    /// <inheritdoc/>
    public void CtcLoss(
        int time, int batch, int classes, BufferSlice<T> logProbs, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, T scale, CtcFlags flags, BufferSlice<T> grad, BufferSlice<T> rowLoss)
    {
        if (time < 0 || batch < 0 || classes < 0 || maxTargetLength < 0)
            throw new LstmException($"CTC loss: negative size (T {time}, B {batch}, C {classes}, S {maxTargetLength})");
        long n = (long)time * batch * classes;
        if (logProbs.Length != n || grad.Length != n || rowLoss.Length != batch)
            throw new LstmException($"CTC loss over [T {time}, B {batch}, C {classes}]: log-probabilities of {logProbs.Length} elements, gradient of {grad.Length}, row losses of {rowLoss.Length}");
        if (inputLengths.Length != batch || targetLengths.Length != batch || targets.Length != (long)batch * maxTargetLength)
            throw new LstmException($"CTC loss over B {batch} rows, S {maxTargetLength}: {inputLengths.Length} input lengths, {targetLengths.Length} target lengths, {targets.Length} targets");
        if (batch > 0 && time > 0 && classes == 0)
            throw new LstmException("CTC loss over 0 classes (class 0 is the blank)");
        if ((flags & ~(CtcFlags.BatchFirst | CtcFlags.MeanOverTargetLength | CtcFlags.ZeroInfinity)) != 0)
            throw new LstmException($"CTC loss: unknown flags {(int)flags}");
        for (int b = 0; b < batch; b++)
        {
            if (inputLengths[b] < 0 || inputLengths[b] > time)
                throw new LstmException($"CTC loss: input length {inputLengths[b]} of row {b} outside [0, {time}]");
            if (targetLengths[b] < 0 || targetLengths[b] > maxTargetLength)
                throw new LstmException($"CTC loss: target length {targetLengths[b]} of row {b} outside [0, {maxTargetLength}]");
            for (int s = 0; s < targetLengths[b]; s++)
            {
                int label = targets[b * maxTargetLength + s];
                if (label < 1 || label >= classes)
                    throw new LstmException($"CTC loss: label {label} at row {b}, position {s} is not a class in [1, {classes}) (0 is the blank)");
            }
        }

        if (batch == 0)
            return;
        CtcLossCore(time, batch, classes, logProbs, targets, maxTargetLength, inputLengths, targetLengths, scale, flags, grad, rowLoss);
    }

    /// <summary><see cref="CtcLoss"/> with checked arguments (B ≥ 1).</summary>
    /// <param name="time">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="classes">C.</param>
    /// <param name="logProbs">[T, B, C] or [B, T, C].</param>
    /// <param name="targets">[B, S].</param>
    /// <param name="maxTargetLength">S.</param>
    /// <param name="inputLengths">[B].</param>
    /// <param name="targetLengths">[B].</param>
    /// <param name="scale">The gradient's scale.</param>
    /// <param name="flags">Layout, per-row mean, zero-infinity.</param>
    /// <param name="grad">Out.</param>
    /// <param name="rowLoss">[B] out.</param>
    protected abstract void CtcLossCore(
        int time, int batch, int classes, BufferSlice<T> logProbs, ReadOnlySpan<int> targets, int maxTargetLength,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths, T scale, CtcFlags flags, BufferSlice<T> grad, BufferSlice<T> rowLoss);

    /// <summary>The kernel's packed integers: input lengths, target lengths, then the padded targets.</summary>
    /// <param name="targets">[B, S].</param>
    /// <param name="inputLengths">[B].</param>
    /// <param name="targetLengths">[B].</param>
    protected static int[] PackCtcIntegers(ReadOnlySpan<int> targets, ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targetLengths)
    {
        var ints = new int[inputLengths.Length + targetLengths.Length + targets.Length];
        inputLengths.CopyTo(ints);
        targetLengths.CopyTo(ints.AsSpan(inputLengths.Length));
        targets.CopyTo(ints.AsSpan(inputLengths.Length + targetLengths.Length));
        return ints;
    }
}
