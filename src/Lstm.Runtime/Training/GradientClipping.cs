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
    /// <param name="parameters">The parameters (on one device or several).</param>
    public static double GradNorm<T>(IEnumerable<Parameter<T>> parameters) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ps = parameters.Where(p => p.Grad.Length > 0).ToArray();
        if (ps.Length == 0)
            return 0;
        // The partials of each parameter on its own device (a model placed over several devices
        // has its layers' gradients on theirs), then added on the host in parameter order, so one
        // device and several give the same sum for the same gradients.
        var counts = ps.Select(p => Math.Min(p.Grad.Length, PartialsPerTensor)).ToArray();
        var offsets = new long[ps.Length];
        for (int i = 1; i < ps.Length; i++)
            offsets[i] = offsets[i - 1] + counts[i - 1];
        var host = new T[offsets[^1] + counts[^1]];
        foreach (var group in Enumerable.Range(0, ps.Length).GroupBy(i => ps[i].Value.Device))
        {
            var ops = group.Key.Ops<T>();
            var members = group.ToArray();
            using var partials = ops.Allocate(members.Sum(i => counts[i]));
            long offset = 0;
            foreach (int i in members)
            {
                ops.SumSquares(ps[i].Grad.Data, partials.Slice(offset, counts[i]));
                offset += counts[i];
            }

            var local = new T[offset];
            ops.Download(partials.All, local);
            offset = 0;
            foreach (int i in members)
            {
                local.AsSpan((int)offset, (int)counts[i]).CopyTo(host.AsSpan((int)offsets[i]));
                offset += counts[i];
            }
        }

        double sum = 0;
        foreach (var v in host)
            sum += Num<T>.ToDouble(v);
        return Math.Sqrt(sum);
    }

    /// <summary>Clips the gradients in place to a total 2-norm of at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">The parameters (on one device or several).</param>
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
