using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// Plain float64 host implementations of the kernels and of a whole multi-layer LSTM, written
/// straight from the equations with no blocking or fusion: the reference every device is
/// checked against (tests and <c>lstm selftest</c>).
/// </summary>
public static partial class HostReference
{
    /// <summary>C = α·op(A)·op(B) + β·C in float64 (β = 0 ignores C's old values).</summary>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">α.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">β.</param>
    /// <param name="c">C, updated.</param>
    public static void Gemm(GemmShape shape, double alpha, ReadOnlySpan<double> a, ReadOnlySpan<double> b, double beta, Span<double> c)
    {
        for (int i = 0; i < shape.M; i++)
        {
            for (int j = 0; j < shape.N; j++)
            {
                double s = 0;
                for (int k = 0; k < shape.K; k++)
                {
                    double av = shape.TransA != 0 ? a[k * shape.Lda + i] : a[i * shape.Lda + k];
                    double bv = shape.TransB != 0 ? b[j * shape.Ldb + k] : b[k * shape.Ldb + j];
                    s += av * bv;
                }

                int idx = i * shape.Ldc + j;
                c[idx] = beta == 0 ? alpha * s : alpha * s + beta * c[idx];
            }
        }
    }

    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>
    /// One LSTM step in float64: from pre-activation gates [B, 4H] (projections and biases already
    /// summed) and c_{t-1}, returns c_t, h_t and the activations i, f, g, o ([B, 4H]).
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="gates">[B, 4H] pre-activations.</param>
    /// <param name="cPrev">[B, H].</param>
    /// <param name="c">[B, H] out.</param>
    /// <param name="h">[B, H] out.</param>
    /// <param name="acts">[B, 4H] out.</param>
    public static void CellForward(int batch, int hidden, ReadOnlySpan<double> gates, ReadOnlySpan<double> cPrev, Span<double> c, Span<double> h, Span<double> acts)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int row = b * 4 * hidden;
                double i = Sigmoid(gates[row + j]);
                double f = Sigmoid(gates[row + hidden + j]);
                double g = Math.Tanh(gates[row + 2 * hidden + j]);
                double o = Sigmoid(gates[row + 3 * hidden + j]);
                int e = b * hidden + j;
                c[e] = f * cPrev[e] + i * g;
                h[e] = o * Math.Tanh(c[e]);
                acts[row + j] = i;
                acts[row + hidden + j] = f;
                acts[row + 2 * hidden + j] = g;
                acts[row + 3 * hidden + j] = o;
            }
        }
    }

    /// <summary>
    /// One LSTM backward step in float64: from dh = dy + dhRec, dc (gradient of c_t; replaced by
    /// that of c_{t-1}), the activations, c_t and c_{t-1}, the gate pre-activation gradients [B, 4H].
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dh">[B, H] total gradient reaching h_t.</param>
    /// <param name="dc">[B, H] in: d c_t; out: d c_{t-1}.</param>
    /// <param name="acts">[B, 4H].</param>
    /// <param name="c">[B, H] c_t.</param>
    /// <param name="cPrev">[B, H] c_{t-1}.</param>
    /// <param name="dgates">[B, 4H] out.</param>
    public static void CellBackward(int batch, int hidden, ReadOnlySpan<double> dh, Span<double> dc, ReadOnlySpan<double> acts, ReadOnlySpan<double> c, ReadOnlySpan<double> cPrev, Span<double> dgates)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int row = b * 4 * hidden;
                int e = b * hidden + j;
                double i = acts[row + j];
                double f = acts[row + hidden + j];
                double g = acts[row + 2 * hidden + j];
                double o = acts[row + 3 * hidden + j];
                double tc = Math.Tanh(c[e]);
                double dct = dc[e] + dh[e] * o * (1 - tc * tc);
                dgates[row + j] = dct * g * i * (1 - i);
                dgates[row + hidden + j] = dct * cPrev[e] * f * (1 - f);
                dgates[row + 2 * hidden + j] = dct * i * (1 - g * g);
                dgates[row + 3 * hidden + j] = dh[e] * tc * o * (1 - o);
                dc[e] = dct * f;
            }
        }
    }

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
    public static LstmReferenceResult Lstm(
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
                CellForward(batch, hidden, gates, cPrev, c, h, acts[k].AsSpan(t * batch * g, batch * g));
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
                CellBackward(batch, hidden, dh, dc, acts[k].AsSpan(t * batch * g, batch * g), cells[k].AsSpan(t * bh, bh), cPrev, dgates);
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

/// <summary>What <see cref="HostReference.Lstm"/> computes (time-major).</summary>
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
