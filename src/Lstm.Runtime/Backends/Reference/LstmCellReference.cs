namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The reference of the LSTM cell kernels (<c>LstmCellKernels</c>): one step forward and backward
/// in float64, written straight from the equations with no fusion.
/// </summary>
public static class LstmCellReference
{
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
    public static void Forward(int batch, int hidden, ReadOnlySpan<double> gates, ReadOnlySpan<double> cPrev, Span<double> c, Span<double> h, Span<double> acts)
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
    public static void Backward(int batch, int hidden, ReadOnlySpan<double> dh, Span<double> dc, ReadOnlySpan<double> acts, ReadOnlySpan<double> c, ReadOnlySpan<double> cPrev, Span<double> dgates)
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
}
