using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// How well predicted classes match the true ones: accuracy, macro-F1 (the mean over classes of
/// each class's F1 = 2·precision·recall / (precision + recall), 0 for a class never predicted
/// nor present) and the confusion matrix (row: true class, column: predicted).
/// </summary>
/// <param name="Classes">The class names, in id order.</param>
/// <param name="Confusion">[true, predicted] counts.</param>
public sealed record ClassificationMetrics(IReadOnlyList<string> Classes, long[,] Confusion)
{
    /// <summary>Sequences counted.</summary>
    public long Count
    {
        get
        {
            long n = 0;
            foreach (long c in Confusion)
                n += c;
            return n;
        }
    }

    /// <summary>Sequences whose predicted class is the true one.</summary>
    public long Correct
    {
        get
        {
            long n = 0;
            for (int c = 0; c < Classes.Count; c++)
                n += Confusion[c, c];
            return n;
        }
    }

    /// <summary>Correct / Count (0 when empty).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;

    /// <summary>Each class's F1.</summary>
    public double[] F1
    {
        get
        {
            int k = Classes.Count;
            var f1 = new double[k];
            for (int c = 0; c < k; c++)
            {
                long tp = Confusion[c, c], predicted = 0, actual = 0;
                for (int o = 0; o < k; o++)
                {
                    predicted += Confusion[o, c];
                    actual += Confusion[c, o];
                }

                f1[c] = predicted + actual == 0 ? 0 : 2.0 * tp / (predicted + actual);
            }

            return f1;
        }
    }

    /// <summary>The mean of <see cref="F1"/> over the classes.</summary>
    public double MacroF1 => F1.Average();

    /// <summary>The metrics of predicted against true class ids.</summary>
    /// <param name="classes">The class names.</param>
    /// <param name="actual">True class ids.</param>
    /// <param name="predicted">Predicted class ids.</param>
    public static ClassificationMetrics Of(IReadOnlyList<string> classes, IReadOnlyList<int> actual, IReadOnlyList<int> predicted)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(predicted);
        if (actual.Count != predicted.Count)
            throw new LstmException($"classification metrics: {actual.Count} true classes but {predicted.Count} predictions");
        var confusion = new long[classes.Count, classes.Count];
        for (int i = 0; i < actual.Count; i++)
            confusion[actual[i], predicted[i]]++;
        return new ClassificationMetrics(classes, confusion);
    }
}

/// <summary>A classifier's class probabilities for every sample of a labelled set, in index order.</summary>
public static class ClassProbabilities
{
    /// <summary>
    /// softmax(logits) for the samples of <paramref name="data"/>, batch by batch in index order (each
    /// padded to its longest), without dropout: a classifier's one row [C] per sample, a labeller's
    /// (<see cref="SequenceOutput.EveryStep"/>) row per step of the sample's own length, [length·C].
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="model">The classifier or labeller.</param>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    public static double[][] Of<T>(IVariableLengthModel<T> model, ISequenceDataset data, int batchSize) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1)
            throw new LstmException($"batch size {batchSize} must be at least 1");
        int classes = model.OutputSize;
        bool everyStep = model.Output == SequenceOutput.EveryStep;
        var result = new double[data.Count][];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int b = Math.Min(batchSize, data.Count - start);
            var batch = DataLoader.Load(data, Enumerable.Range(start, b).ToArray());
            int steps = batch.Steps > 0 ? batch.Steps : data.Steps;
            var x = batch.X.Select(Num<T>.From).ToArray();
            using var input = model.Input == SequenceInput.Tokens
                ? Tensor<T>.FromArray(model.Device, x, b, steps)
                : Tensor<T>.FromArray(model.Device, x, b, steps, data.InputSize);
            var lengths = batch.Lengths ?? Enumerable.Repeat(steps, b).ToArray();
            using var logits = model.Forward(input, lengths, training: false);
            var z = logits.ToArray();
            for (int r = 0; r < b; r++)
            {
                int rows = everyStep ? lengths[r] : 1;
                var p = new double[rows * classes];
                for (int t = 0; t < rows; t++)
                    Softmax(z.AsSpan((everyStep ? r * steps + t : r) * classes, classes), p.AsSpan(t * classes, classes));
                result[start + r] = p;
            }
        }

        return result;
    }

    /// <summary>p = softmax(z) in float64, max-subtracted.</summary>
    private static void Softmax<T>(ReadOnlySpan<T> z, Span<double> p) where T : unmanaged
    {
        double max = double.NegativeInfinity, sum = 0;
        for (int c = 0; c < z.Length; c++)
            max = Math.Max(max, Num<T>.ToDouble(z[c]));
        for (int c = 0; c < z.Length; c++)
            sum += p[c] = Math.Exp(Num<T>.ToDouble(z[c]) - max);
        for (int c = 0; c < z.Length; c++)
            p[c] /= sum;
    }

    /// <summary>The likeliest class of each row (the first of equal probabilities).</summary>
    /// <param name="probabilities">[N][C].</param>
    public static int[] Argmax(IReadOnlyList<double[]> probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        var result = new int[probabilities.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var p = probabilities[i];
            int best = 0;
            for (int c = 1; c < p.Length; c++)
            {
                if (p[c] > p[best])
                    best = c;
            }

            result[i] = best;
        }

        return result;
    }
}
