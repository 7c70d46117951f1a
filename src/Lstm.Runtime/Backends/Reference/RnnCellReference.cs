namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the plain RNN cell kernels (<c>RnnCellKernels</c>): one step forward and
/// backward in float64.
/// </summary>
public static class RnnCellReference
{
    /// <summary>One RNN step in float64: h = act(xproj + b_ih + hproj + b_hh).</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="xproj">[B, H] x_t W_ih^T.</param>
    /// <param name="hproj">[B, H] h_{t-1} W_hh^T.</param>
    /// <param name="biasIh">[H], or empty for bias=False.</param>
    /// <param name="biasHh">[H], or empty for bias=False.</param>
    /// <param name="h">[B, H] out.</param>
    public static void Forward(
        int batch, int hidden, bool relu, ReadOnlySpan<double> xproj, ReadOnlySpan<double> hproj,
        ReadOnlySpan<double> biasIh, ReadOnlySpan<double> biasHh, Span<double> h)
    {
        bool bias = !biasIh.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int e = b * hidden + j;
                double a = xproj[e] + hproj[e] + (bias ? biasIh[j] + biasHh[j] : 0);
                h[e] = relu ? Math.Max(a, 0) : Math.Tanh(a);
            }
        }
    }

    /// <summary>One RNN backward step in float64: dgates = dh ⊙ act'(h), tanh' = 1 − h², relu' = h &gt; 0 ? 1 : 0.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="dh">[B, H] total gradient reaching h_t (dy + dhRec).</param>
    /// <param name="h">[B, H] h_t.</param>
    /// <param name="dgates">[B, H] out.</param>
    public static void Backward(
        int batch, int hidden, bool relu, ReadOnlySpan<double> dh, ReadOnlySpan<double> h, Span<double> dgates)
    {
        for (int e = 0; e < batch * hidden; e++)
            dgates[e] = relu ? (h[e] > 0 ? dh[e] : 0) : dh[e] * (1 - h[e] * h[e]);
    }

}
