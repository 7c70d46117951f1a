using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Mean squared error, <c>torch.nn.MSELoss()</c>: mean((prediction - target)²), optionally with a
/// per-row mask for padded steps (masked rows contribute neither loss nor gradient; the mean runs
/// over the unmasked rows' elements). One fused kernel computes the row losses and the gradient.
/// </summary>
public static class MseLoss
{
    /// <summary>The loss (row losses added on the host in float64) and d loss / d prediction (on the device).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="prediction">Any shape.</param>
    /// <param name="target">The same shape.</param>
    public static (double Loss, Tensor<T> Grad) Compute<T>(Tensor<T> prediction, Tensor<T> target) where T : unmanaged =>
        Compute(prediction, target, null);

    /// <summary>The masked loss and its gradient: rows are the first dimension.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="prediction">[N, ...].</param>
    /// <param name="target">The same shape.</param>
    /// <param name="mask">[N] of 1 (counts) and 0 (padding), or null.</param>
    public static (double Loss, Tensor<T> Grad) Compute<T>(Tensor<T> prediction, Tensor<T> target, Tensor<T>? mask) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Shape.SequenceEqual(target.Shape))
            throw new LstmException($"MSE: prediction has shape {prediction.ShapeString} but target has {target.ShapeString}");
        int rows = prediction.Shape.Count == 0 ? 1 : prediction.Shape[0];
        int cols = rows == 0 ? 0 : checked((int)(prediction.Length / rows));
        long count = LossMask.CountRows("MSE", mask, rows);
        var grad = Tensor<T>.Zeros(prediction.Device, prediction.Shape.ToArray());
        try
        {
            using var rowLoss = Tensor<T>.Zeros(prediction.Device, rows);
            double scale = count == 0 || cols == 0 ? 0 : 1.0 / ((double)count * cols);
            prediction.Ops.MseLoss(rows, cols, prediction.Data, target.Data, mask?.Data, Num<T>.From(scale), grad.Data, rowLoss.Data);
            return (LossMask.Sum(rowLoss) * scale, grad);
        }
        catch
        {
            grad.Dispose();
            throw;
        }
    }
}

/// <summary>Checks of per-row masks shared by the losses.</summary>
internal static class LossMask
{
    /// <summary>The number of rows that count: N without a mask, else the number of ones (every value must be 0 or 1).</summary>
    public static long CountRows<T>(string loss, Tensor<T>? mask, int rows) where T : unmanaged
    {
        if (mask is null)
            return rows;
        if (!mask.HasShape(rows))
            throw new LstmException($"{loss}: the mask has shape {mask.ShapeString}, expected [{rows}] (one value per row)");
        long count = 0;
        var values = mask.ToArray();
        for (int r = 0; r < values.Length; r++)
        {
            double v = Num<T>.ToDouble(values[r]);
            if (v == 1)
                count++;
            else if (v != 0)
                throw new LstmException($"{loss}: mask value {v} at row {r} is neither 0 nor 1");
        }

        return count;
    }

    /// <summary>Σ of a tensor's values in float64.</summary>
    public static double Sum<T>(Tensor<T> t) where T : unmanaged
    {
        double s = 0;
        foreach (var v in t.ToArray())
            s += Num<T>.ToDouble(v);
        return s;
    }
}
