using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm eval</c> and <c>predict</c> for sequence labellers (trained through
/// <see cref="ClassifyCommand"/>): a <see cref="LabellingEvaluation"/>, printed; per-step
/// labelling also draws <c>confusion.png</c>.
/// </summary>
internal static class LabelCommand
{
    public static int Eval(EvalOptions o, TextWriter stdout)
    {
        if (o.Text is not null || o.Target is not null || o.Window is not null)
            throw new LstmException($"--run {o.Run} is a sequence labeller: evaluate it on its validation set, --csv FILE in its format, or its --task");
        var r = LabellingEvaluation.Evaluate(o.Run, o.Csv, o.Task, o.ValidationSamples, o.Task is null ? null : o.Seed, o.Device, o.BatchSize);
        stdout.WriteLine($"evaluating {r.ModelDirectory} on {r.What}");
        if (r.Steps is not { } m)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"label error rate {100.0 * r.ErrorRate:F2}% (greedy decoding; edit distance over {r.ReferenceLabels} reference labels)  sequence accuracy {100.0 * r.SequenceAccuracy:F2}% ({r.Sequences} sequences)"));
            return Program.Ok;
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"per-step accuracy {100.0 * m.Accuracy:F2}% ({m.Correct} of {m.Count} steps in {r.Sequences} sequences)  macro-F1 {m.MacroF1:F4}  cross-entropy {r.CrossEntropy:F5} nats"));
        ClassifyCommand.PrintConfusion(m, o.Run, stdout);
        return Program.Ok;
    }

    public static int Predict(PredictOptions o, TextWriter stdout)
    {
        var (sequences, csv) = LabellingEvaluation.Predict(o.Run, o.Csv ?? throw new LstmException("--csv: a labeller labels the sequences of a CSV file; give one"), o.Device, 256);
        if (o.Output is { } output)
        {
            AtomicFile.WriteAllText(output, csv);
            stdout.WriteLine($"wrote the labels of {sequences} sequences to {output}");
        }
        else
        {
            stdout.Write(csv);
        }

        return Program.Ok;
    }
}
