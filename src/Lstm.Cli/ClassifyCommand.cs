using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm train</c>, <c>eval</c> and <c>predict</c> for sequence classifiers (and <c>train</c> for
/// sequence labellers, whose <c>eval</c> and <c>predict</c> are <see cref="LabelCommand"/>'s): the
/// options as <see cref="ClassificationSettings"/>, then a <see cref="ClassificationRun"/> or a
/// <see cref="ClassificationEvaluation"/>, printed; <c>eval</c> also draws <c>confusion.png</c>.
/// </summary>
internal static class ClassifyCommand
{
    /// <summary>The confusion matrix's picture in the run folder.</summary>
    public const string ConfusionFile = "confusion.png";

    /// <summary>Whether <c>lstm train</c>'s options ask for a classifier (or resume one).</summary>
    public static bool Applies(TrainOptions o) => o.Classifies || o.Kind is not null || o.Loss is not null || (o.Resume is { } run && ClassificationRun.IsClassificationRun(run));

    public static int Train(TrainOptions o, IReadOnlyList<string> args, TextWriter stdout, CancellationToken cancel)
    {
        var refused = new (string Option, bool Given)[]
        {
            ("--target", o.Target is not null), ("--window", o.Window is not null), ("--horizon", o.Horizon is not null), ("--text", o.Text is not null),
            ("--normalize", o.Normalize is not null), ("--missing", o.Missing is not null), ("--proj-size", o.ProjSize is not null),
            ("--devices", o.Devices is not null), ("--shards", o.Shards is not null), ("--placement", o.Placement is not null), ("--chunk-steps", o.ChunkSteps is not null),
            ("--dry-run", o.DryRun), ("--optimizer", o.Optimizer is not null), ("--weight-decay", o.WeightDecay is not null), ("--momentum", o.Momentum is not null),
            ("--schedule", o.Schedule is not null), ("--warmup", o.Warmup is not null), ("--on-nonfinite", o.OnNonFinite is not null), ("--patience", o.Patience is not null),
            ("--precision", o.Precision is not null), ("--save", o.Save is not null),
        };
        if (refused.FirstOrDefault(r => r.Given) is { Option: { } bad })
            throw new LstmException($"{bad} is not an option of a sequence classifier or labeller (it trains with Adam on one device)");
        string device = o.Device ?? "auto";
        var console = new TrainCommand.ConsoleObserver(stdout, o.Quiet);
        TrainingRunResult r;
        if (o.Resume is { } run)
        {
            var changes = new (string Option, bool Given)[]
            {
                ("--task", o.Task is not null), ("--csv", o.Csv is not null), ("--text-column", o.TextColumn is not null), ("--label-column", o.LabelColumn is not null),
                ("--sequence-column", o.SequenceColumn is not null), ("--features", o.Features is not null), ("--tokens", o.Tokens is not null),
                ("--vocab-size", o.VocabSize is not null), ("--seq-len", o.SeqLen is not null), ("--train-samples", o.TrainSamples is not null),
                ("--val-samples", o.ValidationSamples is not null), ("--val-fraction", o.ValFraction is not null), ("--cell", o.Cell is not null),
                ("--hidden", o.Hidden is not null), ("--layers", o.Layers is not null), ("--embedding-dim", o.EmbeddingDim is not null),
                ("--bidirectional", o.Bidirectional), ("--dropout", o.Dropout is not null), ("--pool", o.Pool is not null), ("--class-weights", o.ClassWeights is not null),
                ("--steps", o.Steps is not null), ("--epochs", o.Epochs is not null), ("--batch-size", o.BatchSize is not null), ("--lr", o.LearningRate is not null),
                ("--clip", o.Clip is not null), ("--validate-every", o.ValidateEvery is not null), ("--checkpoint-every", o.CheckpointEvery is not null),
                ("--seed", o.Seed is not null), ("--out", o.Out is not null), ("--kind", o.Kind is not null), ("--loss", o.Loss is not null),
            };
            if (changes.FirstOrDefault(c => c.Given) is { Option: { } changed })
                throw new LstmException($"--resume {run}: {changed} cannot change a classification run (it keeps the data, model and training settings of its config.json; only --device, --until-step and --quiet may be given)");
            r = ClassificationRun.Resume(run, device, console, o.UntilStep, cancel);
        }
        else
        {
            var settings = new ClassificationSettings
            {
                Kind = o.Kind, Loss = o.Loss, Task = o.Task, SeqLen = o.SeqLen, TrainSamples = o.TrainSamples, ValSamples = o.ValidationSamples,
                Csv = o.Csv, TextColumn = o.TextColumn, LabelColumn = o.LabelColumn, SequenceColumn = o.SequenceColumn, Features = o.Features,
                Tokens = o.Tokens, VocabSize = o.VocabSize, ValFraction = o.ValFraction,
                Cell = o.Cell, Hidden = o.Hidden, Layers = o.Layers, EmbeddingDim = o.EmbeddingDim, Bidirectional = o.Bidirectional, Dropout = o.Dropout,
                Pool = o.Pool, ClassWeights = o.ClassWeights,
                Steps = o.Steps, Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, Clip = o.Clip,
                ValidateEvery = o.ValidateEvery, CheckpointEvery = o.CheckpointEvery, Seed = o.Seed,
            };
            r = ClassificationRun.Start(settings, device, o.Out, CommandLineText.Format(args), console, o.UntilStep, cancel);
        }

        TrainCommand.PrintSummary(r, stdout);
        return Program.Ok;
    }

    public static int Eval(EvalOptions o, TextWriter stdout)
    {
        if (LabellingEvaluation.IsLabellingRun(o.Run))
            return LabelCommand.Eval(o, stdout);
        if (o.Text is not null || o.Target is not null || o.Window is not null)
            throw new LstmException($"--run {o.Run} is a sequence classifier: evaluate it on its validation set, --csv FILE in its format, or --task classify");
        var report = ClassificationEvaluation.Evaluate(o.Run, o.Csv, o.Task, o.ValidationSamples, o.Task is null ? null : o.Seed, o.Device, o.BatchSize);
        var m = report.Metrics;
        stdout.WriteLine($"evaluating {report.ModelDirectory} on {report.What}");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"accuracy {100.0 * m.Accuracy:F2}% ({m.Correct} of {m.Count})  macro-F1 {m.MacroF1:F4}  cross-entropy {report.CrossEntropy:F5} nats"));
        PrintConfusion(m, o.Run, stdout);
        return Program.Ok;
    }

    /// <summary>The confusion matrix with each class's F1 on the console, and drawn as the run's <c>confusion.png</c>.</summary>
    internal static void PrintConfusion(ClassificationMetrics m, string run, TextWriter stdout)
    {
        var f1 = m.F1;
        int width = Math.Max(9, m.Classes.Max(c => c.Length) + 1);
        stdout.WriteLine("confusion (rows: true class, columns: predicted):");
        stdout.WriteLine("".PadRight(width) + string.Concat(m.Classes.Select(c => c.PadLeft(width))) + "       F1");
        for (int a = 0; a < m.Classes.Count; a++)
        {
            string row = m.Classes[a].PadRight(width);
            for (int p = 0; p < m.Classes.Count; p++)
                row += m.Confusion[a, p].ToString(CultureInfo.InvariantCulture).PadLeft(width);
            stdout.WriteLine(row + f1[a].ToString("F4", CultureInfo.InvariantCulture).PadLeft(9));
        }

        string png = Path.Combine(run, ConfusionFile);
        AtomicFile.Write(png, temp => ConfusionPlot.Draw(temp, m, $"accuracy {100.0 * m.Accuracy:F1}%, macro-F1 {m.MacroF1:F3}"));
        stdout.WriteLine($"wrote {png}");
    }

    public static int Predict(PredictOptions o, TextWriter stdout)
    {
        if (LabellingEvaluation.IsLabellingRun(o.Run))
            return LabelCommand.Predict(o, stdout);
        var predictions = ClassificationEvaluation.Predict(o.Run, o.Csv ?? throw new LstmException("--csv: a classifier predicts the sequences of a CSV file; give one"), o.Device, 256);
        string csv = ClassificationEvaluation.ToCsv(predictions, ClassificationEvaluation.ClassesOf(o.Run));
        if (o.Output is { } output)
        {
            AtomicFile.WriteAllText(output, csv);
            stdout.WriteLine($"wrote {predictions.Count} predictions to {output}");
        }
        else
        {
            stdout.Write(csv);
        }

        return Program.Ok;
    }
}
