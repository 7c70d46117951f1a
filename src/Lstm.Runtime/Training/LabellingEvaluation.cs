using System.Globalization;
using System.Text;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;

namespace Lstm.Runtime.Training;

/// <summary>What <see cref="LabellingEvaluation.Evaluate"/> measured: per step (cross-entropy) or per label sequence (CTC).</summary>
/// <param name="ModelDirectory">Where the weights came from (model/, best/ or last/).</param>
/// <param name="What">The sequences scored.</param>
/// <param name="Sequences">Sequences scored.</param>
/// <param name="Steps">Per step: the metrics over every step of every sequence; CTC: null.</param>
/// <param name="CrossEntropy">Per step: the mean cross-entropy of the true classes over the steps, in nats; CTC: null.</param>
/// <param name="ErrorRate">CTC: the greedy-decoded label error rate (edit distances over the references' length); per step: null.</param>
/// <param name="SequenceAccuracy">CTC: the fraction of sequences decoded exactly; per step: null.</param>
/// <param name="ReferenceLabels">CTC: the references' total length.</param>
public sealed record LabellingReport(
    string ModelDirectory, string What, int Sequences, ClassificationMetrics? Steps, double? CrossEntropy, double? ErrorRate, double? SequenceAccuracy, long ReferenceLabels);

/// <summary>
/// <c>lstm eval</c> and <c>lstm predict</c> for a sequence labeller's run: its trained labeller
/// (<c>model/</c>, else <c>best/</c>, else <c>last/</c>) on the run's validation sequences, a CSV
/// file in the run's format or the synthetic task; a label per step, or per sequence the label
/// sequence CTC's greedy decoding reads.
/// </summary>
public static class LabellingEvaluation
{
    /// <summary>Whether the run folder holds a labelling run.</summary>
    /// <param name="run">A classification or labelling run folder.</param>
    public static bool IsLabellingRun(string run) => ClassificationRun.ReadSettings(run).IsLabeller;

    /// <summary>Scores the run's labeller.</summary>
    /// <param name="run">The run folder.</param>
    /// <param name="csv">A CSV file in the run's format (its label column required), or null.</param>
    /// <param name="task">The run's synthetic task with <paramref name="samples"/> sequences (seeded by <paramref name="seed"/>), or null.</param>
    /// <param name="samples">The task's sequences (default 300).</param>
    /// <param name="seed">The task's seed (default the run's validation seed).</param>
    /// <param name="device">The device name.</param>
    /// <param name="batchSize">Sequences per forward pass.</param>
    /// <exception cref="LstmException">The folder, file, a column, a label or a target is bad.</exception>
    public static LabellingReport Evaluate(string run, string? csv, string? task, int? samples, int? seed, string device, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(run);
        var settings = ClassificationRun.ReadSettings(run);
        var (modelDir, description) = ClassificationEvaluation.OpenModel(run);
        LabelledSteps data;
        string what;
        if (csv is not null)
        {
            data = description.EncodeSteps(description.ReadCsv(csv, labelled: true), csv);
            what = $"{data.Count} sequences of {csv}";
        }
        else if (task is not null)
        {
            if (task != settings.Task)
                throw new LstmException($"--task {task}: the run's labeller was trained on {(settings.Task is null ? "a CSV file; evaluate it with --csv" : "--task " + settings.Task)}");
            int n = samples ?? 300, s = seed ?? settings.SeedOrDefault + 1;
            data = task == CtcTask.Name ? CtcTask.Create(n, s) : LabelTask.Create(n, s, settings.SeqLen ?? LabelTask.DefaultMaxLength);
            what = $"{data.Count} sequences of task {task}";
        }
        else
        {
            data = (LabelledSteps)ClassificationData.Prepare(settings).Validation;
            what = $"the run's {data.Count} validation sequences";
        }

        using var dev = ComputeDevice.Open(device);
        using var model = SequenceClassifier<float>.Load(dev, modelDir);
        var probabilities = ClassProbabilities.Of(model, data, batchSize);
        int classes = model.OutputSize;
        if (!data.PerStep)
        {
            var decoded = probabilities.Select(p => CtcDecoding.Greedy<double>(p, classes)).ToList();
            int exact = decoded.Where((d, i) => d.AsSpan().SequenceEqual(data.Targets[i])).Count();
            return new LabellingReport(modelDir, what, data.Count, null, null, CtcDecoding.ErrorRate(decoded, data.Targets.ToList()), (double)exact / data.Count, data.Targets.Sum(t => (long)t.Length));
        }

        var actual = new List<int>();
        var predicted = new List<int>();
        double ce = 0;
        for (int i = 0; i < data.Count; i++)
        {
            var steps = Rows(probabilities[i], classes);
            var best = ClassProbabilities.Argmax(steps);
            for (int t = 0; t < steps.Length; t++)
            {
                int y = data.Targets[i][t];
                ce -= Math.Log(Math.Max(steps[t][y], double.Epsilon));
                actual.Add(y);
                predicted.Add(best[t]);
            }
        }

        return new LabellingReport(modelDir, what, data.Count, ClassificationMetrics.Of(description.Classes, actual, predicted), ce / Math.Max(1, actual.Count), null, null, 0);
    }

    /// <summary>
    /// Labels the sequences of a CSV file in the run's format, as CSV: per step
    /// <c>sequence,step,label,p_&lt;class&gt;...</c> (steps from 1), or with CTC <c>sequence,labels</c>
    /// (the decoded labels separated by spaces).
    /// </summary>
    /// <param name="run">The run folder.</param>
    /// <param name="csv">The file (a label column, when there, must hold the model's labels).</param>
    /// <param name="device">The device name.</param>
    /// <param name="batchSize">Sequences per forward pass.</param>
    /// <returns>The sequences and the CSV text.</returns>
    public static (int Sequences, string Csv) Predict(string run, string csv, string device, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(csv);
        var (modelDir, description) = ClassificationEvaluation.OpenModel(run);
        var data = description.EncodeSteps(description.ReadCsv(csv, labelled: false), csv);
        using var dev = ComputeDevice.Open(device);
        using var model = SequenceClassifier<float>.Load(dev, modelDir);
        var probabilities = ClassProbabilities.Of(model, data, batchSize);
        int classes = model.OutputSize;
        var text = new StringBuilder();
        static string Q(string s) => ClassificationEvaluation.Quote(s);
        if (!data.PerStep)
        {
            text.Append("sequence,labels\n");
            for (int i = 0; i < data.Count; i++)
                text.Append(Q(data.Names[i])).Append(',').Append(Q(string.Join(' ', CtcDecoding.Greedy<double>(probabilities[i], classes).Select(c => description.Classes[c])))).Append('\n');
            return (data.Count, text.ToString());
        }

        text.Append("sequence,step,label");
        foreach (string c in description.Classes)
            text.Append(',').Append(Q("p_" + c));
        text.Append('\n');
        for (int i = 0; i < data.Count; i++)
        {
            var steps = Rows(probabilities[i], classes);
            var best = ClassProbabilities.Argmax(steps);
            for (int t = 0; t < steps.Length; t++)
            {
                text.Append(Q(data.Names[i])).Append(',').Append((t + 1).ToString(CultureInfo.InvariantCulture)).Append(',').Append(Q(description.Classes[best[t]]));
                foreach (double p in steps[t])
                    text.Append(',').Append(p.ToString("G6", CultureInfo.InvariantCulture));
                text.Append('\n');
            }
        }

        return (data.Count, text.ToString());
    }

    /// <summary>A sequence's probabilities [length·C] as one row per step.</summary>
    private static double[][] Rows(double[] p, int classes) => Enumerable.Range(0, p.Length / classes).Select(t => p.AsSpan(t * classes, classes).ToArray()).ToArray();
}
