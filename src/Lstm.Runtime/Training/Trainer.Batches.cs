using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <content>
/// A batch through a model to its loss: x as [B, T, I] values or [B, T] tokens (T the batch's
/// own for variable-length samples, whose lengths go to an <see cref="IVariableLengthModel{T}"/>),
/// the targets laid out per output row, padded steps masked out of every-step losses, and
/// optional class weights.
/// </content>
public sealed partial class Trainer<T>
{
    /// <summary>
    /// Runs a model on rows [first, first + rows) of a batch and returns the loss, d loss / d y and
    /// the rows' weight in a mean over batches: the rows, or the rows' summed class weights, or
    /// (every step of variable-length samples) the steps within their lengths.
    /// </summary>
    private (double Loss, Tensor<T> Grad, double Weight) Forward(ISequenceModel<T> model, Batch batch, int first, int rows, bool training)
    {
        var device = model.Device;
        int steps = batch.Steps > 0 ? batch.Steps : _train.Steps;
        int inputSize = _train.InputSize;
        int xLen = steps * inputSize;
        var x = Convert(batch.X.AsSpan(first * xLen, rows * xLen));
        int[]? lengths = batch.Lengths?.AsSpan(first, rows).ToArray();
        using var input = model.Input == SequenceInput.Tokens
            ? Tensor<T>.FromArray(device, x, rows, steps)
            : Tensor<T>.FromArray(device, x, rows, steps, inputSize);
        using var prediction = lengths is null ? model.Forward(input, training) : ((IVariableLengthModel<T>)model).Forward(input, lengths, training);
        bool everyStep = model.Output == SequenceOutput.EveryStep;
        if (Options.Loss == LossKind.Ctc)
        {
            var (ctc, _, ctcGrad) = CtcLoss.FromLogits(prediction, rows, CtcTargets(batch, first, rows), lengths ?? Enumerable.Repeat(steps, rows).ToArray());
            return (ctc, ctcGrad, rows);
        }

        int outRows = everyStep ? rows * steps : rows;
        int perRow = Options.Loss == LossKind.Mse ? model.OutputSize : 1;
        var y = TargetRows(batch, first, rows, everyStep ? steps : 1, perRow);
        bool[]? mask = null;
        if (everyStep && lengths is not null)
        {
            mask = new bool[outRows];
            for (int b = 0; b < rows; b++)
                mask.AsSpan(b * steps, lengths[b]).Fill(true);
        }

        if (Options.Loss == LossKind.Mse)
        {
            using var target = Tensor<T>.FromArray(device, Convert(y), outRows, model.OutputSize);
            using var maskTensor = mask is null ? null : Tensor<T>.FromArray(device, mask.Select(m => m ? Num<T>.One : Num<T>.Zero).ToArray(), outRows);
            var (mse, grad) = MseLoss.Compute(prediction, target, maskTensor);
            return (mse, grad, mask?.Count(m => m) ?? outRows);
        }

        var classes = new int[outRows];
        for (int r = 0; r < outRows; r++)
            classes[r] = (mask is null || mask[r]) ? ClassOf(y[r], r, model.OutputSize) : 0;
        if (Options.ClassWeights is { } weights)
            return WeightedCrossEntropy.Compute(prediction, classes, mask, weights);
        var (ce, ceGrad) = CrossEntropyLoss.Compute(prediction, classes, mask);
        return (ce, ceGrad, mask?.Count(m => m) ?? outRows);
    }

    /// <summary>
    /// The batch's targets of rows [first, first + rows) as output rows: each sample's target holds
    /// <paramref name="perStep"/> rows of <paramref name="perRow"/> values for every step of the
    /// dataset; a batch padded to fewer steps reads the first of them.
    /// </summary>
    private static double[] TargetRows(Batch batch, int first, int rows, int perStep, int perRow)
    {
        var y = batch.Y;
        int yLen = y.Length / batch.Indices.Length;
        int take = perStep * perRow;
        if (take == yLen)
            return y.AsSpan(first * yLen, rows * yLen).ToArray();
        var result = new double[rows * take];
        for (int b = 0; b < rows; b++)
            y.AsSpan((first + b) * yLen, take).CopyTo(result.AsSpan(b * take, take));
        return result;
    }

    /// <summary>The CTC label sequences of rows [first, first + rows): each target row is n, then n labels.</summary>
    private static int[][] CtcTargets(Batch batch, int first, int rows)
    {
        int yLen = batch.Y.Length / batch.Indices.Length;
        var targets = new int[rows][];
        for (int b = 0; b < rows; b++)
        {
            var row = batch.Y.AsSpan((first + b) * yLen, yLen);
            double n = row[0];
            if (!(n >= 0 && n < yLen && n == Math.Floor(n)))
                throw new LstmException($"CTC loss: sample {batch.Indices[first + b]} has label count {n.ToString(CultureInfo.InvariantCulture)}, not an integer in [0, {yLen - 1}]");
            targets[b] = new int[(int)n];
            for (int s = 0; s < targets[b].Length; s++)
                targets[b][s] = (int)row[1 + s];
        }

        return targets;
    }

    /// <summary>A target value as a class index, checked.</summary>
    private static int ClassOf(double v, int row, int classes) =>
        v >= 0 && v < classes && v == Math.Floor(v)
            ? (int)v
            : throw new LstmException($"cross-entropy: target {v.ToString(CultureInfo.InvariantCulture)} at row {row} is not a class index in [0, {classes})");
}
