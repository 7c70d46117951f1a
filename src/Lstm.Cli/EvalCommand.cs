using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm eval</c>: a trained run on a data set, in index order without dropout. Forecasts:
/// MSE, RMSE and MAE in the target columns' original units (and the MSE of the normalized values
/// the run trained on); classes: cross-entropy (nats), perplexity and accuracy.
/// </summary>
internal static class EvalCommand
{
    public static int Execute(EvalOptions o, TextWriter stdout)
    {
        if (o.BatchSize < 1)
            throw new LstmException($"--batch-size {o.BatchSize}: must be ≥ 1");
        foreach (var (option, value) in new[] { ("--target", o.Target), ("--features", o.Features), ("--horizon", o.Horizon?.ToString(CultureInfo.InvariantCulture)), ("--normalize", o.Normalize) })
        {
            if (value is not null)
                throw new LstmException($"{option} {value}: eval reads the columns the run was trained on, as it normalized them");
        }

        using var run = TrainedRun.Open(o.Run, o.Device);
        var spec = run.Config.Data;
        ISequenceDataset data;
        string what;
        if (o.AnyData)
        {
            var evalSpec = o.ToSpec(spec) with { Seed = o.Seed };
            data = evalSpec.PrepareEvaluation(run.Data);
            what = evalSpec.Source == "task" ? $"{data.Count} new samples of the {evalSpec.Task} task (seed {o.Seed})" : $"{data.Count} windows of {evalSpec.Path}";
        }
        else
        {
            data = spec.Prepare().Validation;
            what = $"the run's {data.Count} validation samples";
        }

        var model = run.Model;
        int expectedInput = model.Input == SequenceInput.Tokens ? 1 : model.Config.InputSize;
        if (data.InputSize != expectedInput)
            throw new LstmException($"the data has {data.InputSize} values per step; the model of {run.ModelDirectory} reads {expectedInput}");
        int rowsPerSample = model.Output == SequenceOutput.EveryStep ? data.Steps : 1;
        int expectedTarget = model.Input == SequenceInput.Tokens ? rowsPerSample : rowsPerSample * model.OutputSize;
        if (data.TargetLength != expectedTarget)
            throw new LstmException($"the data has {data.TargetLength} target values per sample; the model of {run.ModelDirectory} gives {expectedTarget}");

        stdout.WriteLine($"evaluating {run.ModelDirectory} ({TrainingRun.Describe(model.Config)}) on {what}, on {run.Device}");
        if (model.Input == SequenceInput.Tokens)
            Classes(model, data, o.BatchSize, stdout);
        else
            Values(model, data, o.BatchSize, run.Data.TargetStats, spec.Source == "csv" ? spec.Targets : null, stdout);
        return Program.Ok;
    }

    private static void Values(SequenceNetwork<float> model, ISequenceDataset data, int batchSize, ZScoreStatistics? stats, IReadOnlyList<string>? names, TextWriter stdout)
    {
        int o = model.OutputSize;
        var sse = new double[o];
        var sae = new double[o];
        double normalizedSse = 0;
        foreach (var (x, y, b) in Batches(data, batchSize))
        {
            var rows = model.Predict(Array.ConvertAll(x, v => (float)v), b, data.Steps);
            for (int i = 0; i < b; i++)
            {
                for (int k = 0; k < o; k++)
                {
                    double p = rows[i][k], t = y[i * o + k];
                    normalizedSse += (p - t) * (p - t);
                    if (stats is not null)
                    {
                        p = stats.Denormalize(k, p);
                        t = stats.Denormalize(k, t);
                    }

                    sse[k] += (p - t) * (p - t);
                    sae[k] += Math.Abs(p - t);
                }
            }
        }

        int n = data.Count;
        string F(double v) => v.ToString("G8", CultureInfo.InvariantCulture);
        if (stats is not null)
            stdout.WriteLine($"loss (MSE of the z-scored targets): {F(normalizedSse / (n * o))}");
        for (int k = 0; k < o; k++)
        {
            string name = names is not null && k < names.Count ? names[k] : o == 1 ? "target" : $"output {k}";
            stdout.WriteLine($"{name}: MSE {F(sse[k] / n)}  RMSE {F(Math.Sqrt(sse[k] / n))}  MAE {F(sae[k] / n)}{(stats is null ? "" : " (original units)")}");
        }
    }

    private static void Classes(SequenceNetwork<float> model, ISequenceDataset data, int batchSize, TextWriter stdout)
    {
        int v = model.OutputSize;
        double nll = 0;
        long correct = 0, count = 0;
        foreach (var (x, y, b) in Batches(data, batchSize))
        {
            using var tokens = Tensor<float>.FromArray(model.Device, Array.ConvertAll(x, d => (float)d), b, data.Steps);
            using var logits = model.Forward(tokens);
            var z = logits.ToArray();
            int rows = z.Length / v;
            for (int r = 0; r < rows; r++)
            {
                var row = z.AsSpan(r * v, v);
                int target = (int)y[r];
                double max = double.NegativeInfinity;
                int arg = 0;
                for (int c = 0; c < v; c++)
                {
                    if (row[c] > max)
                    {
                        max = row[c];
                        arg = c;
                    }
                }

                double sum = 0;
                for (int c = 0; c < v; c++)
                    sum += Math.Exp(row[c] - max);
                nll += Math.Log(sum) + max - row[target];
                correct += arg == target ? 1 : 0;
                count++;
            }
        }

        double ce = nll / count;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cross-entropy {ce:F5} nats  perplexity {Math.Exp(ce):F4}  accuracy {100.0 * correct / count:F2}% ({correct} of {count} predictions; uniform guessing: perplexity {v})"));
    }

    /// <summary>The samples in index order, <paramref name="batchSize"/> at a time (the last batch may be smaller): x [b, T, I], y [b, targets].</summary>
    internal static IEnumerable<(double[] X, double[] Y, int B)> Batches(ISequenceDataset data, int batchSize)
    {
        int xLen = data.Steps * data.InputSize, yLen = data.TargetLength;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int b = Math.Min(batchSize, data.Count - start);
            var x = new double[b * xLen];
            var y = new double[b * yLen];
            for (int i = 0; i < b; i++)
                data.Fill(start + i, x.AsSpan(i * xLen, xLen), y.AsSpan(i * yLen, yLen));
            yield return (x, y, b);
        }
    }
}
