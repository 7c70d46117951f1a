using System.Globalization;
using System.Text;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>What <see cref="ClassificationEvaluation.Evaluate"/> measured.</summary>
/// <param name="ModelDirectory">Where the weights came from (model/, best/ or last/).</param>
/// <param name="What">The sequences scored.</param>
/// <param name="Metrics">Accuracy, macro-F1, confusion.</param>
/// <param name="CrossEntropy">Mean cross-entropy of the true classes, in nats.</param>
public sealed record ClassificationReport(string ModelDirectory, string What, ClassificationMetrics Metrics, double CrossEntropy);

/// <summary>One prediction: the sequence, the likeliest class and every class's probability.</summary>
/// <param name="Name">The sequence's id, or its line.</param>
/// <param name="Label">The likeliest class.</param>
/// <param name="Probabilities">One per class, in the order of the model's classes.</param>
public sealed record ClassPrediction(string Name, string Label, IReadOnlyList<double> Probabilities);

/// <summary>
/// <c>lstm eval</c> and <c>lstm predict</c> for a classification run: its trained classifier
/// (<c>model/</c>, else <c>best/</c>, else <c>last/</c>) on the run's validation sequences, a
/// CSV file in the run's format or the synthetic task; predictions as CSV.
/// </summary>
public static class ClassificationEvaluation
{
    /// <summary>Scores the run's classifier.</summary>
    /// <param name="run">The run folder.</param>
    /// <param name="csv">A CSV file in the run's format (its label column required), or null.</param>
    /// <param name="task">The synthetic task with <paramref name="samples"/> sequences (seeded by <paramref name="seed"/>), or null.</param>
    /// <param name="samples">The task's sequences (default 500).</param>
    /// <param name="seed">The task's seed (default the run's validation seed).</param>
    /// <param name="device">The device name.</param>
    /// <param name="batchSize">Sequences per forward pass.</param>
    /// <exception cref="LstmException">The folder, file, a column or a label is bad.</exception>
    public static ClassificationReport Evaluate(string run, string? csv, string? task, int? samples, int? seed, string device, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(run);
        var settings = ClassificationRun.ReadSettings(run);
        if (settings.IsLabeller)
            throw new LstmException($"{run}: a sequence labeller's run; LabellingEvaluation scores it");
        var (modelDir, description) = OpenModel(run);
        ISequenceDataset data;
        string what;
        if (csv is not null)
        {
            var set = description.Encode(description.ReadCsv(csv, labelled: true), csv);
            (data, what) = (set, $"{set.Count} sequences of {csv}");
        }
        else if (task is not null)
        {
            if (task != ClassifyTask.Name || description.Source != "task")
                throw new LstmException($"--task {task}: the run's classifier was trained on {(description.Source == "task" ? "--task " + ClassifyTask.Name : "a CSV file; evaluate it with --csv")}");
            var t = new ClassifyTask(samples ?? 500, seed ?? settings.SeedOrDefault + 1, settings.SeqLen ?? ClassifyTask.DefaultMaxLength);
            (data, what) = (t, $"{t.Count} sequences of task classify");
        }
        else
        {
            data = ClassificationData.Prepare(settings).Validation;
            what = $"the run's {data.Count} validation sequences";
        }

        using var dev = ComputeDevice.Open(device);
        using var model = SequenceClassifier<float>.Load(dev, modelDir);
        var probabilities = ClassProbabilities.Of(model, data, batchSize);
        var actual = Labels(data);
        double ce = 0;
        for (int i = 0; i < actual.Length; i++)
            ce -= Math.Log(Math.Max(probabilities[i][actual[i]], double.Epsilon));
        var metrics = ClassificationMetrics.Of(description.Classes, actual, ClassProbabilities.Argmax(probabilities));
        return new ClassificationReport(modelDir, what, metrics, ce / Math.Max(1, actual.Length));
    }

    /// <summary>Predicts a class and the class probabilities for every sequence of a CSV file in the run's format.</summary>
    /// <param name="run">The run folder.</param>
    /// <param name="csv">The file (a label column, when there, must hold the model's classes).</param>
    /// <param name="device">The device name.</param>
    /// <param name="batchSize">Sequences per forward pass.</param>
    public static IReadOnlyList<ClassPrediction> Predict(string run, string csv, string device, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(csv);
        if (LabellingEvaluation.IsLabellingRun(run))
            throw new LstmException($"{run}: a sequence labeller's run; LabellingEvaluation labels its sequences");
        var (modelDir, description) = OpenModel(run);
        var set = description.Encode(description.ReadCsv(csv, labelled: false), csv);
        using var dev = ComputeDevice.Open(device);
        using var model = SequenceClassifier<float>.Load(dev, modelDir);
        var probabilities = ClassProbabilities.Of(model, set, batchSize);
        var best = ClassProbabilities.Argmax(probabilities);
        return probabilities.Select((p, i) => new ClassPrediction(set.Names[i], description.Classes[best[i]], p)).ToList();
    }

    /// <summary>Predictions as CSV: <c>sequence,label,p_&lt;class&gt;...</c>, one row per sequence.</summary>
    /// <param name="predictions">The predictions.</param>
    /// <param name="classes">The class names, in the probabilities' order.</param>
    public static string ToCsv(IReadOnlyList<ClassPrediction> predictions, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(classes);
        var text = new StringBuilder();
        text.Append("sequence,label");
        foreach (string c in classes)
            text.Append(',').Append(Quote("p_" + c));
        text.Append('\n');
        foreach (var p in predictions)
        {
            text.Append(Quote(p.Name)).Append(',').Append(Quote(p.Label));
            foreach (double v in p.Probabilities)
                text.Append(',').Append(v.ToString("G6", CultureInfo.InvariantCulture));
            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The class names of the run's classifier.</summary>
    /// <param name="run">The run folder.</param>
    public static IReadOnlyList<string> ClassesOf(string run)
    {
        return OpenModel(run).Description.Classes;
    }

    /// <summary>A classification or labelling run's trained model folder (model/, else best/, else last/) and its data description.</summary>
    internal static (string ModelDirectory, ClassifierData Description) OpenModel(string run)
    {
        using var folder = RunFolder.Open(run);
        string modelDir = folder.TrainedModel();
        return (modelDir, ClassifierData.Load(Path.Combine(modelDir, ClassifierData.FileName)));
    }

    internal static string Quote(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    private static int[] Labels(ISequenceDataset data)
    {
        var labels = new int[data.Count];
        var x = new double[data.Steps * data.InputSize];
        var y = new double[1];
        for (int i = 0; i < data.Count; i++)
        {
            data.Fill(i, x, y);
            labels[i] = (int)y[0];
        }

        return labels;
    }
}
