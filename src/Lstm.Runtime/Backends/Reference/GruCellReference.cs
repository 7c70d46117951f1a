namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the GRU cell kernels (<c>GruCellKernels</c>): one step forward and backward in
/// float64, written straight from the equations with no fusion.
/// </summary>
public static class GruCellReference
{
    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>
    /// One GRU step in float64 (PyTorch's variant, gate order r, z, n): from the projections
    /// without bias, the biases and h_{t-1}, returns h_t and the activations r, z, n, hn.
    /// </summary>
    /// <remarks>
    /// <code>
    /// r = σ(xproj_r + b_ir + hproj_r + b_hr)   z = σ(xproj_z + b_iz + hproj_z + b_hz)
    /// hn = hproj_n + b_hn   n = tanh(xproj_n + b_in + r·hn)   h = (1 − z)·n + z·h_{t-1}
    /// </code>
    /// </remarks>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 3H] x_t W_ih^T.</param>
    /// <param name="hproj">[B, 3H] h_{t-1} W_hh^T.</param>
    /// <param name="biasIh">[3H], or empty for bias=False.</param>
    /// <param name="biasHh">[3H], or empty for bias=False.</param>
    /// <param name="hPrev">[B, H].</param>
    /// <param name="h">[B, H] out; may be the same memory as hPrev.</param>
    /// <param name="acts">[B, 4H] out (r, z, n, hn), or empty.</param>
    public static void Forward(
        int batch, int hidden, ReadOnlySpan<double> xproj, ReadOnlySpan<double> hproj, ReadOnlySpan<double> biasIh,
        ReadOnlySpan<double> biasHh, ReadOnlySpan<double> hPrev, Span<double> h, Span<double> acts)
    {
        bool bias = !biasIh.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int row = b * 3 * hidden;
                int e = b * hidden + j;
                double r = Sigmoid(xproj[row + j] + hproj[row + j] + (bias ? biasIh[j] + biasHh[j] : 0));
                double z = Sigmoid(xproj[row + hidden + j] + hproj[row + hidden + j] + (bias ? biasIh[hidden + j] + biasHh[hidden + j] : 0));
                double hn = hproj[row + 2 * hidden + j] + (bias ? biasHh[2 * hidden + j] : 0);
                double n = Math.Tanh(xproj[row + 2 * hidden + j] + (bias ? biasIh[2 * hidden + j] : 0) + r * hn);
                double hp = hPrev[e];
                h[e] = (1 - z) * n + z * hp;
                if (!acts.IsEmpty)
                {
                    int arow = b * 4 * hidden;
                    acts[arow + j] = r;
                    acts[arow + hidden + j] = z;
                    acts[arow + 2 * hidden + j] = n;
                    acts[arow + 3 * hidden + j] = hn;
                }
            }
        }
    }

    /// <summary>
    /// One GRU backward step in float64: from dh = dy + dhRec, the activations and h_{t-1}, the
    /// gradients of xproj and hproj and the direct part of the gradient of h_{t-1}.
    /// </summary>
    /// <remarks>
    /// <code>
    /// dn = dh·(1 − z)   dz = dh·(h_{t-1} − n)   dnp = dn·(1 − n²)   dr = dnp·hn
    /// dgatesX = [dr·r(1 − r), dz·z(1 − z), dnp]   dgatesH = [dr·r(1 − r), dz·z(1 − z), dnp·r]   dhPrev = dh·z
    /// </code>
    /// </remarks>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dh">[B, H] total gradient reaching h_t.</param>
    /// <param name="acts">[B, 4H] r, z, n, hn.</param>
    /// <param name="hPrev">[B, H].</param>
    /// <param name="dgatesX">[B, 3H] out.</param>
    /// <param name="dgatesH">[B, 3H] out.</param>
    /// <param name="dhPrev">[B, H] out.</param>
    public static void Backward(
        int batch, int hidden, ReadOnlySpan<double> dh, ReadOnlySpan<double> acts, ReadOnlySpan<double> hPrev,
        Span<double> dgatesX, Span<double> dgatesH, Span<double> dhPrev)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int arow = b * 4 * hidden;
                int row = b * 3 * hidden;
                int e = b * hidden + j;
                double r = acts[arow + j];
                double z = acts[arow + hidden + j];
                double n = acts[arow + 2 * hidden + j];
                double hn = acts[arow + 3 * hidden + j];
                double dn = dh[e] * (1 - z);
                double dz = dh[e] * (hPrev[e] - n);
                double dnp = dn * (1 - n * n);
                double dr = dnp * hn;
                dgatesX[row + j] = dgatesH[row + j] = dr * r * (1 - r);
                dgatesX[row + hidden + j] = dgatesH[row + hidden + j] = dz * z * (1 - z);
                dgatesX[row + 2 * hidden + j] = dnp;
                dgatesH[row + 2 * hidden + j] = dnp * r;
                dhPrev[e] = dh[e] * z;
            }
        }
    }
}
