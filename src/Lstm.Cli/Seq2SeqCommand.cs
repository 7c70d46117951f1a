using System.Globalization;
using Lstm.Runtime;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// <c>lstm train</c> and <c>eval</c> for encoder-decoders: the options as
/// <see cref="Seq2SeqSettings"/>, then a <see cref="Seq2SeqRun"/> or a
/// <see cref="Seq2SeqEvaluation"/>, printed.
/// </summary>
internal static class Seq2SeqCommand
{
    /// <summary>Whether <c>lstm train</c>'s options ask for an encoder-decoder (or resume one).</summary>
    public static bool Applies(TrainOptions o) => o.Translates || (o.Resume is { } run && Seq2SeqRun.IsSeq2SeqRun(run));

    public static int Train(TrainOptions o, IReadOnlyList<string> args, TextWriter stdout, CancellationToken cancel)
    {
        var refused = new (string Option, bool Given)[]
        {
            ("--csv", o.Csv is not null), ("--text", o.Text is not null), ("--text-column", o.TextColumn is not null), ("--label-column", o.LabelColumn is not null),
            ("--sequence-column", o.SequenceColumn is not null), ("--target", o.Target is not null), ("--features", o.Features is not null),
            ("--window", o.Window is not null), ("--horizon", o.Horizon is not null), ("--pool", o.Pool is not null), ("--class-weights", o.ClassWeights is not null),
            ("--proj-size", o.ProjSize is not null), ("--devices", o.Devices is not null), ("--shards", o.Shards is not null), ("--placement", o.Placement is not null),
            ("--chunk-steps", o.ChunkSteps is not null), ("--dry-run", o.DryRun), ("--optimizer", o.Optimizer is not null), ("--weight-decay", o.WeightDecay is not null),
            ("--momentum", o.Momentum is not null), ("--schedule", o.Schedule is not null), ("--warmup", o.Warmup is not null), ("--on-nonfinite", o.OnNonFinite is not null),
            ("--patience", o.Patience is not null), ("--precision", o.Precision is not null), ("--save", o.Save is not null),
        };
        if (refused.FirstOrDefault(r => r.Given) is { Option: { } bad })
            throw new LstmException($"{bad} is not an option of an encoder-decoder (--pairs or --task reverse|dates; it trains with Adam on one device)");
        string device = o.Device ?? "auto";
        var console = new TrainCommand.ConsoleObserver(stdout, o.Quiet);
        var settings = new Seq2SeqSettings
        {
            Task = o.Task, SeqLen = o.SeqLen, TrainSamples = o.TrainSamples, ValSamples = o.ValidationSamples, Pairs = o.Pairs,
            Tokens = o.Tokens, VocabSize = o.VocabSize, ValFraction = o.ValFraction, MaxLength = o.MaxLength,
            Cell = o.Cell, Hidden = o.Hidden, Layers = o.Layers, EmbeddingDim = o.EmbeddingDim, Bidirectional = o.Bidirectional, Attention = o.Attention, Dropout = o.Dropout,
            Steps = o.Steps, Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, Clip = o.Clip,
            ValidateEvery = o.ValidateEvery, CheckpointEvery = o.CheckpointEvery, Seed = o.Seed,
        };
        Seq2SeqRunResult r;
        if (o.Resume is { } run)
        {
            // Only the device and where to stop may differ from the recorded run.
            if (settings != new Seq2SeqSettings() || o.Out is not null)
                throw new LstmException($"--resume {run}: an encoder-decoder run keeps the data, model and training settings of its config.json; only --device, --until-step and --quiet may be given");
            r = Seq2SeqRun.Resume(run, device, console, o.UntilStep, cancel);
        }
        else
        {
            r = Seq2SeqRun.Start(settings, device, o.Out, CommandLineText.Format(args), console, o.UntilStep, cancel);
        }

        TrainCommand.PrintSummary(r.Run, stdout);
        if (r.TokenAccuracy is { } accuracy)
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"validation token accuracy at step {r.AccuracyStep}: {100 * accuracy:F2}% (teacher-forced); lstm eval --run {CommandLineText.Quote(r.Run.Folder)} decodes and scores exact match and BLEU"));
        return Program.Ok;
    }

    public static int Eval(EvalOptions o, TextWriter stdout)
    {
        if (o.Csv is not null || o.Text is not null || o.Target is not null || o.Window is not null)
            throw new LstmException($"--run {o.Run} is an encoder-decoder: evaluate it on its validation pairs, --pairs FILE or its --task");
        var r = Seq2SeqEvaluation.Evaluate(new Seq2SeqEvaluationSettings
        {
            Run = o.Run, Device = o.Device, Pairs = o.Pairs, Task = o.Task, Samples = o.ValidationSamples, Seed = o.Task is null ? null : o.Seed,
            BatchSize = o.BatchSize, Beam = o.Beam, MaxLength = o.MaxLength, Output = o.Output,
        });
        string how = r.Beam == 1 ? "greedy decoding" : $"beam search, {r.Beam} beams";
        stdout.WriteLine($"evaluating {r.ModelDirectory} on {r.What} ({how})");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"exact match {100 * r.ExactMatch:F2}% ({r.ExactMatches} of {r.Pairs})  token accuracy {100 * r.TeacherForced.TokenAccuracy:F2}% ({r.TeacherForced.Correct} of {r.TeacherForced.Tokens} target tokens with <eos>, teacher-forced)  cross-entropy {r.TeacherForced.CrossEntropy:F5} nats per token"));
        var b = r.Bleu;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"BLEU-4 {100 * b.Score:F2} (corpus, on {r.TokenWord}, no smoothing): precisions {string.Join(" / ", b.Precisions.Select(p => (100 * p).ToString("F1", CultureInfo.InvariantCulture)))}, brevity penalty {b.BrevityPenalty:F4} ({b.HypothesisLength} output and {b.ReferenceLength} reference tokens)"));
        if (o.Output is { } output)
            stdout.WriteLine($"wrote {output}: source, reference and hypothesis per pair");
        return Program.Ok;
    }
}
