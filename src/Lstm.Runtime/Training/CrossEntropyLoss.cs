using System.Globalization;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Cross-entropy over logits with integer class targets, <c>torch.nn.CrossEntropyLoss()</c>
/// (mean over rows), optionally with a per-row mask for padded steps: masked rows contribute
/// neither loss nor gradient and the mean runs over the unmasked rows. One fused,
/// max-subtracted log-softmax kernel gives each row's loss and the gradient (softmax − onehot)/count.
/// </summary>
/// <remarks>Dimension letters: N rows (samples or time steps × batch), C classes.</remarks>
public static class CrossEntropyLoss
{
    /// <summary>The mean loss and d loss / d logits.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">[N] class indices in [0, C), as exact integers of T (unchecked on masked rows).</param>
    /// <param name="mask">[N] of 1 (counts) and 0 (padding), or null. When every row is masked the loss and gradient are 0.</param>
    public static (double Loss, Tensor<T> Grad) Compute<T>(Tensor<T> logits, Tensor<T> targets, Tensor<T>? mask = null) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Shape.Count != 2)
            throw new LstmException($"cross-entropy: logits have shape {logits.ShapeString}, expected [N, C]");
        int rows = logits.Shape[0];
        int classes = logits.Shape[1];
        if (!targets.HasShape(rows))
            throw new LstmException($"cross-entropy: targets have shape {targets.ShapeString}, expected [{rows}] for logits {logits.ShapeString}");
        if (classes == 0 && rows > 0)
            throw new LstmException($"cross-entropy: logits {logits.ShapeString} have no classes");
        long count = LossMask.CountRows("cross-entropy", mask, rows);
        var maskValues = mask?.ToArray();
        var t = targets.ToArray();
        for (int r = 0; r < rows; r++)
        {
            if (maskValues is not null && Num<T>.ToDouble(maskValues[r]) == 0)
                continue;
            double v = Num<T>.ToDouble(t[r]);
            if (!(v >= 0 && v < classes) || v != Math.Floor(v))
                throw new LstmException($"cross-entropy: target {v.ToString(CultureInfo.InvariantCulture)} at row {r} is not a class index in [0, {classes})");
        }

        var grad = Tensor<T>.Zeros(logits.Device, rows, classes);
        try
        {
            using var rowLoss = Tensor<T>.Zeros(logits.Device, rows);
            double scale = count == 0 ? 0 : 1.0 / count;
            logits.Ops.CrossEntropyLoss(rows, classes, logits.Data, targets.Data, mask?.Data, Num<T>.From(scale), grad.Data, rowLoss.Data);
            return (LossMask.Sum(rowLoss) * scale, grad);
        }
        catch
        {
            grad.Dispose();
            throw;
        }
    }

    /// <summary>The mean loss and d loss / d logits, with the targets given as host integers.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">N class indices.</param>
    /// <param name="mask">N flags (true counts), or null.</param>
    public static (double Loss, Tensor<T> Grad) Compute<T>(Tensor<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask = default) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(logits);
        var t = new T[targets.Length];
        for (int i = 0; i < t.Length; i++)
            t[i] = Num<T>.From(targets[i]);
        using var dt = Tensor<T>.FromArray(logits.Device, t, t.Length);
        if (mask.IsEmpty)
            return Compute(logits, dt);
        var m = new T[mask.Length];
        for (int i = 0; i < m.Length; i++)
            m[i] = mask[i] ? Num<T>.One : Num<T>.Zero;
        using var dm = Tensor<T>.FromArray(logits.Device, m, m.Length);
        return Compute(logits, dt, dm);
    }
}
