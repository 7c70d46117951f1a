using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Cross-entropy with a weight per class, <c>torch.nn.CrossEntropyLoss(weight=w)</c>: row r's loss
/// −log softmax(z_r)[y_r] counts w[y_r] times, and the sum is divided by Σ_r w[y_r] over the rows
/// counted. Computed in float64 on the host: a classifier's logits are [B, C], a few values a step.
/// </summary>
/// <remarks>Dimension letters: N rows, C classes.</remarks>
public static class WeightedCrossEntropy
{
    /// <summary>The weighted mean loss, d loss / d logits and the rows' summed weight.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logits">[N, C].</param>
    /// <param name="targets">N class indices in [0, C) (unchecked on masked rows).</param>
    /// <param name="mask">N flags (true counts), or null for all.</param>
    /// <param name="weights">C weights ≥ 0.</param>
    /// <exception cref="LstmException">The shapes disagree or a target is not a class.</exception>
    public static (double Loss, Tensor<T> Grad, double Weight) Compute<T>(Tensor<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<bool> mask, IReadOnlyList<double> weights)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(weights);
        if (logits.Shape.Count != 2 || logits.Shape[0] != targets.Length || logits.Shape[1] != weights.Count)
            throw new LstmException($"weighted cross-entropy: logits {logits.ShapeString} do not fit {targets.Length} targets of {weights.Count} classes");
        if (!mask.IsEmpty && mask.Length != targets.Length)
            throw new LstmException($"weighted cross-entropy: {mask.Length} mask flags for {targets.Length} rows");
        int rows = targets.Length, classes = weights.Count;
        var z = logits.ToArray();
        var grad = new double[z.Length];
        var p = new double[classes];
        double sum = 0, total = 0;
        for (int r = 0; r < rows; r++)
        {
            if (!mask.IsEmpty && !mask[r])
                continue;
            int y = targets[r];
            if ((uint)y >= (uint)classes)
                throw new LstmException($"weighted cross-entropy: target {y} at row {r} is not a class index in [0, {classes})");
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
                max = Math.Max(max, Num<T>.ToDouble(z[r * classes + c]));
            double s = 0;
            for (int c = 0; c < classes; c++)
                s += p[c] = Math.Exp(Num<T>.ToDouble(z[r * classes + c]) - max);
            double w = weights[y];
            sum += w * (Math.Log(s) - (Num<T>.ToDouble(z[r * classes + y]) - max));
            total += w;
            for (int c = 0; c < classes; c++)
                grad[r * classes + c] = w * (p[c] / s - (c == y ? 1 : 0));
        }

        double scale = total > 0 ? 1 / total : 0;
        var g = new T[grad.Length];
        for (int i = 0; i < g.Length; i++)
            g[i] = Num<T>.From(grad[i] * scale);
        return (sum * scale, Tensor<T>.FromArray(logits.Device, g, rows, classes), total);
    }
}
