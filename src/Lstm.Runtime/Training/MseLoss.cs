using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>Mean squared error, <c>torch.nn.MSELoss()</c>: mean((prediction - target)²).</summary>
public static class MseLoss
{
    /// <summary>The loss (computed in float64 on the host) and d loss / d prediction (on the device).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="prediction">Any shape.</param>
    /// <param name="target">The same shape.</param>
    public static (double Loss, Tensor<T> Grad) Compute<T>(Tensor<T> prediction, Tensor<T> target) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Shape.SequenceEqual(target.Shape))
            throw new LstmException($"MSE: prediction has shape {prediction.ShapeString} but target has {target.ShapeString}");
        var p = prediction.ToArray();
        var t = target.ToArray();
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double d = Num<T>.ToDouble(p[i]) - Num<T>.ToDouble(t[i]);
            sum += d * d;
        }

        long n = Math.Max(1, p.Length);
        var grad = Tensor<T>.Zeros(prediction.Device, prediction.Shape.ToArray());
        prediction.Ops.MseGrad(Num<T>.From(2.0 / n), prediction.Data, target.Data, grad.Data);
        return (sum / n, grad);
    }
}
