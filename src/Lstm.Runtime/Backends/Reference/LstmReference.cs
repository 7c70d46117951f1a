using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// A whole multi-layer LSTM forward and backward in float64, built from <see cref="GemmReference"/>
/// and <see cref="LstmCellReference"/>: the reference of the runtime's LSTM time loop.
/// </summary>
public static class LstmReference
{
    /// <summary>
    /// A whole multi-layer LSTM forward and backward in float64, time-major.
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hidden">H.</param>
    /// <param name="layers">L.</param>
    /// <param name="parameters">By PyTorch name: weight_ih_l{k} [4H, I_k], weight_hh_l{k} [4H, H], and optionally bias_ih_l{k}, bias_hh_l{k} [4H].</param>
    /// <param name="x">[T, B, I].</param>
    /// <param name="h0">[L, B, H] or null.</param>
    /// <param name="c0">[L, B, H] or null.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="dy">[T, B, H] gradient of the output, or null to skip the backward pass.</param>
    /// <param name="dhn">[L, B, H] or null.</param>
    /// <param name="dcn">[L, B, H] or null.</param>
    public static LstmReferenceResult Run(
        int inputSize, int hidden, int layers, IReadOnlyDictionary<string, double[]> parameters,
        double[] x, double[]? h0, double[]? c0, int steps, int batch, double[]? dy = null, double[]? dhn = null, double[]? dcn = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int g = 4 * hidden;
        int bh = batch * hidden;
        var result = new LstmReferenceResult
        {
            HN = new double[layers * bh],
            CN = new double[layers * bh],
        };
        var inputs = new double[layers][];
        var outputs = new double[layers][];
        var cells = new double[layers][];
        var acts = new double[layers][];
        var input = x;
        for (int k = 0; k < layers; k++)
        {
            int ik = k == 0 ? inputSize : hidden;
            var wih = parameters[$"weight_ih_l{k}"];
            var whh = parameters[$"weight_hh_l{k}"];
            parameters.TryGetValue($"bias_ih_l{k}", out var bih);
            parameters.TryGetValue($"bias_hh_l{k}", out var bhh);
            inputs[k] = input;
            outputs[k] = new double[steps * bh];
            cells[k] = new double[steps * bh];
            acts[k] = new double[steps * batch * g];
            var hPrev = h0 is null ? new double[bh] : h0.AsSpan(k * bh, bh).ToArray();
            var cPrev = c0 is null ? new double[bh] : c0.AsSpan(k * bh, bh).ToArray();
            var gates = new double[batch * g];
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int r = 0; r < g; r++)
                    {
                        double s = (bih?[r] ?? 0) + (bhh?[r] ?? 0);
                        for (int q = 0; q < ik; q++)
                            s += wih[r * ik + q] * input[(t * batch + b) * ik + q];
                        for (int q = 0; q < hidden; q++)
                            s += whh[r * hidden + q] * hPrev[b * hidden + q];
                        gates[b * g + r] = s;
                    }
                }

                var c = cells[k].AsSpan(t * bh, bh);
                var h = outputs[k].AsSpan(t * bh, bh);
                LstmCellReference.Forward(batch, hidden, gates, cPrev, c, h, acts[k].AsSpan(t * batch * g, batch * g));
                hPrev = h.ToArray();
                cPrev = c.ToArray();
            }

            hPrev.CopyTo(result.HN, k * bh);
            cPrev.CopyTo(result.CN, k * bh);
            input = outputs[k];
        }

        result.Output = outputs[layers - 1];
        if (dy is null)
            return result;

        result.DH0 = new double[layers * bh];
        result.DC0 = new double[layers * bh];
        var dOut = dy;
        for (int k = layers - 1; k >= 0; k--)
        {
            int ik = k == 0 ? inputSize : hidden;
            var wih = parameters[$"weight_ih_l{k}"];
            var whh = parameters[$"weight_hh_l{k}"];
            var dWih = new double[g * ik];
            var dWhh = new double[g * hidden];
            var dB = new double[g];
            var dIn = new double[steps * batch * ik];
            var dhRec = dhn is null ? new double[bh] : dhn.AsSpan(k * bh, bh).ToArray();
            var dc = dcn is null ? new double[bh] : dcn.AsSpan(k * bh, bh).ToArray();
            var dgates = new double[batch * g];
            var dh = new double[bh];
            for (int t = steps - 1; t >= 0; t--)
            {
                for (int e = 0; e < bh; e++)
                    dh[e] = dOut[t * bh + e] + dhRec[e];
                var cPrev = t == 0 ? (c0 is null ? new double[bh] : c0.AsSpan(k * bh, bh).ToArray()) : cells[k].AsSpan((t - 1) * bh, bh).ToArray();
                var hPrev = t == 0 ? (h0 is null ? new double[bh] : h0.AsSpan(k * bh, bh).ToArray()) : outputs[k].AsSpan((t - 1) * bh, bh).ToArray();
                LstmCellReference.Backward(batch, hidden, dh, dc, acts[k].AsSpan(t * batch * g, batch * g), cells[k].AsSpan(t * bh, bh), cPrev, dgates);
                Array.Clear(dhRec);
                for (int b = 0; b < batch; b++)
                {
                    for (int r = 0; r < g; r++)
                    {
                        double d = dgates[b * g + r];
                        dB[r] += d;
                        for (int q = 0; q < ik; q++)
                        {
                            dWih[r * ik + q] += d * inputs[k][(t * batch + b) * ik + q];
                            dIn[(t * batch + b) * ik + q] += d * wih[r * ik + q];
                        }

                        for (int q = 0; q < hidden; q++)
                        {
                            dWhh[r * hidden + q] += d * hPrev[b * hidden + q];
                            dhRec[b * hidden + q] += d * whh[r * hidden + q];
                        }
                    }
                }
            }

            dhRec.CopyTo(result.DH0, k * bh);
            dc.CopyTo(result.DC0, k * bh);
            result.Grads[$"weight_ih_l{k}"] = dWih;
            result.Grads[$"weight_hh_l{k}"] = dWhh;
            if (parameters.ContainsKey($"bias_ih_l{k}"))
            {
                result.Grads[$"bias_ih_l{k}"] = dB;
                result.Grads[$"bias_hh_l{k}"] = (double[])dB.Clone();
            }

            dOut = dIn;
        }

        result.DX = dOut;
        return result;
    }
}

/// <summary>What <see cref="LstmReference.Run"/> computes (time-major).</summary>
public sealed class LstmReferenceResult
{
    /// <summary>[T, B, H].</summary>
    public double[] Output { get; internal set; } = [];

    /// <summary>[L, B, H].</summary>
    public double[] HN { get; internal set; } = [];

    /// <summary>[L, B, H].</summary>
    public double[] CN { get; internal set; } = [];

    /// <summary>[T, B, I], after a backward pass.</summary>
    public double[] DX { get; internal set; } = [];

    /// <summary>[L, B, H], after a backward pass.</summary>
    public double[] DH0 { get; internal set; } = [];

    /// <summary>[L, B, H], after a backward pass.</summary>
    public double[] DC0 { get; internal set; } = [];

    /// <summary>Parameter gradients by PyTorch name.</summary>
    public Dictionary<string, double[]> Grads { get; } = [];
}
