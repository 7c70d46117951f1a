using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The dropout between layers: the mask of layer k's output is keyed by (seed, stream k, the
/// element's index in the layer's seq-first output in the caller's row order), so a block of steps
/// draws the same mask as the whole output, and the backward pass applies the same mask again.
/// </summary>
/// <param name="seed">The masks' seed.</param>
/// <param name="p">The probability of a zero.</param>
internal readonly struct LayerDropout(ulong seed, double p)
{
    /// <summary>
    /// y = dropout(x) over steps t0 … t0+count-1 of a layer output [T, B, W] time-major with rows
    /// sorted by the plan (rows are put in the caller's order for the mask, then back).
    /// </summary>
    public void Apply<T>(IDeviceOps<T> ops, LengthPlan? plan, int batch, int t0, int count, int width, ulong layer, BufferSlice<T> x, BufferSlice<T> y)
        where T : unmanaged
    {
        var probability = Num<T>.From(p);
        long perStep = (long)batch * width;
        long baseIndex = t0 * perStep;
        var xs = x.Slice(baseIndex, count * perStep);
        var ys = y.Slice(baseIndex, count * perStep);
        if (plan is not { Identity: false })
        {
            ops.Dropout(seed, layer, baseIndex, probability, xs, ys);
            return;
        }

        using var callerOrder = RowOrder.Gather(ops, width, count, plan.Inverse, xs);
        ops.Dropout(seed, layer, baseIndex, probability, callerOrder.All, callerOrder.All);
        using var sorted = RowOrder.Gather(ops, width, count, plan.Perm, callerOrder.All);
        ops.Copy(sorted.All, ys);
    }
}
