namespace Lstm.Runtime.Backends.Reference;

/// <summary>The reference of the attention kernels (<c>AttentionKernels</c>) in float64, straight from their definitions.</summary>
/// <remarks>Dimension letters: N rows, C columns, B batch, U queries, S keys, A the additive score's width.</remarks>
public static class AttentionReference
{
    /// <summary>y = tanh(x).</summary>
    /// <param name="x">[n].</param>
    public static double[] Tanh(ReadOnlySpan<double> x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            y[i] = Math.Tanh(x[i]);
        return y;
    }

    /// <summary>dx = dy·(1 − y²).</summary>
    /// <param name="y">[n] tanh's output.</param>
    /// <param name="dy">[n].</param>
    public static double[] TanhBackward(ReadOnlySpan<double> y, ReadOnlySpan<double> dy)
    {
        var dx = new double[y.Length];
        for (int i = 0; i < y.Length; i++)
            dx[i] = dy[i] * (1 - y[i] * y[i]);
        return dx;
    }

    /// <summary>Softmax of each row over its first lengths[r] columns (the others −∞, so 0); a row of length 0 is zeros.</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="x">[N, C].</param>
    /// <param name="lengths">[N] in [0, C].</param>
    public static double[] MaskedSoftmax(int rows, int cols, ReadOnlySpan<double> x, ReadOnlySpan<int> lengths)
    {
        var y = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            int len = lengths[r];
            if (len == 0)
                continue;
            double max = double.NegativeInfinity;
            for (int j = 0; j < len; j++)
                max = Math.Max(max, x[r * cols + j]);
            double sum = 0;
            for (int j = 0; j < len; j++)
                sum += Math.Exp(x[r * cols + j] - max);
            for (int j = 0; j < len; j++)
                y[r * cols + j] = Math.Exp(x[r * cols + j] - max) / sum;
        }

        return y;
    }

    /// <summary>dx[r, j] = Σ_k (∂y[r, k] / ∂x[r, j])·dy[r, k] with ∂y_k/∂x_j = y_k (δ_kj − y_j): the softmax's Jacobian applied in full.</summary>
    /// <param name="rows">N.</param>
    /// <param name="cols">C.</param>
    /// <param name="y">[N, C] the softmax.</param>
    /// <param name="dy">[N, C].</param>
    public static double[] SoftmaxBackward(int rows, int cols, ReadOnlySpan<double> y, ReadOnlySpan<double> dy)
    {
        var dx = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                double acc = 0;
                for (int k = 0; k < cols; k++)
                    acc += y[r * cols + k] * ((k == j ? 1 : 0) - y[r * cols + j]) * dy[r * cols + k];
                dx[r * cols + j] = acc;
            }
        }

        return dx;
    }

    /// <summary>scores[b, u, s] = Σ_a v[a]·tanh(q[b·U + u, a] + k[b·S + s, a]).</summary>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    public static double[] AdditiveScores(int batch, int queries, int keys, int width, ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v)
    {
        var scores = new double[batch * queries * keys];
        for (int b = 0; b < batch; b++)
        {
            for (int u = 0; u < queries; u++)
            {
                for (int s = 0; s < keys; s++)
                {
                    double acc = 0;
                    for (int a = 0; a < width; a++)
                        acc += v[a] * Math.Tanh(q[(b * queries + u) * width + a] + k[(b * keys + s) * width + a]);
                    scores[(b * queries + u) * keys + s] = acc;
                }
            }
        }

        return scores;
    }

    /// <summary>The gradients of Σ dScores ⊙ scores with respect to q, k and v, summed score by score (scatter form, independent of the kernel's gather form).</summary>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="keys">S.</param>
    /// <param name="width">A.</param>
    /// <param name="q">[B·U, A].</param>
    /// <param name="k">[B·S, A].</param>
    /// <param name="v">[A].</param>
    /// <param name="dScores">[B, U, S].</param>
    public static (double[] DQ, double[] DK, double[] DV) AdditiveScoresBackward(
        int batch, int queries, int keys, int width, ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, ReadOnlySpan<double> dScores)
    {
        var dq = new double[batch * queries * width];
        var dk = new double[batch * keys * width];
        var dv = new double[width];
        for (int b = 0; b < batch; b++)
        {
            for (int u = 0; u < queries; u++)
            {
                for (int s = 0; s < keys; s++)
                {
                    double g = dScores[(b * queries + u) * keys + s];
                    for (int a = 0; a < width; a++)
                    {
                        double t = Math.Tanh(q[(b * queries + u) * width + a] + k[(b * keys + s) * width + a]);
                        dv[a] += g * t;
                        dq[(b * queries + u) * width + a] += g * v[a] * (1 - t * t);
                        dk[(b * keys + s) * width + a] += g * v[a] * (1 - t * t);
                    }
                }
            }
        }

        return (dq, dk, dv);
    }
}
