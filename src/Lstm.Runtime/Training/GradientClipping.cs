using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Global-norm gradient clipping, <c>torch.nn.utils.clip_grad_norm_(params, max_norm)</c> with the
/// 2-norm: total = √(Σ over all gradients of g²); when max_norm / (total + 1e-6) &lt; 1 every gradient
/// is multiplied by that factor.
/// </summary>
public static class GradientClipping
{
    /// <summary>Most partial sums per gradient: the sum of squares runs as this many independent sums.</summary>
    public const int PartialsPerTensor = 256;

    /// <summary>The total 2-norm of the gradients (a device reduction, the partials added on the host in float64).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">Parameters on one device.</param>
    public static double GradNorm<T>(IEnumerable<Parameter<T>> parameters) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ps = parameters.Where(p => p.Grad.Length > 0).ToArray();
        if (ps.Length == 0)
            return 0;
        var device = ps[0].Value.Device;
        if (ps.Any(p => !ReferenceEquals(p.Value.Device, device)))
            throw new LstmException("gradient clipping: the parameters are on different devices");
        var ops = device.Ops<T>();
        long total = ps.Sum(p => Math.Min(p.Grad.Length, PartialsPerTensor));
        using var partials = ops.Allocate(total);
        long offset = 0;
        foreach (var p in ps)
        {
            long count = Math.Min(p.Grad.Length, PartialsPerTensor);
            ops.SumSquares(p.Grad.Data, partials.Slice(offset, count));
            offset += count;
        }

        var host = new T[total];
        ops.Download(partials.All, host);
        double sum = 0;
        foreach (var v in host)
            sum += Num<T>.ToDouble(v);
        return Math.Sqrt(sum);
    }

    /// <summary>Clips the gradients in place to a total 2-norm of at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">Parameters on one device.</param>
    /// <param name="maxNorm">The largest norm allowed (&gt; 0).</param>
    public static double ClipGradNorm<T>(IEnumerable<Parameter<T>> parameters, double maxNorm) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0))
            throw new LstmException($"gradient clipping: max norm {maxNorm} must be > 0");
        var ps = parameters.ToArray();
        double norm = GradNorm(ps);
        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient < 1)
        {
            foreach (var p in ps)
                p.Grad.Ops.Scale(Num<T>.From(coefficient), p.Grad.Data);
        }

        return norm;
    }
}
