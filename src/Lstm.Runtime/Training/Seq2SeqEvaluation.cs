using System.Text;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>What <c>lstm eval</c> and <c>lstm translate</c> ask of an encoder-decoder run; null where not given.</summary>
public sealed record Seq2SeqEvaluationSettings
{
    /// <summary>The run folder.</summary>
    public required string Run { get; init; }

    /// <summary>The device name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;

    /// <summary>A pairs file to score (eval), else the task or the run's validation pairs.</summary>
    public string? Pairs { get; init; }

    /// <summary>The run's task to score on fresh pairs (eval).</summary>
    public string? Task { get; init; }

    /// <summary>The task's pairs (default 500).</summary>
    public int? Samples { get; init; }

    /// <summary>The task's seed (default the run's validation seed).</summary>
    public int? Seed { get; init; }

    /// <summary>Pairs per teacher-forced forward pass.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>K: 1 decodes greedily, more with beam search.</summary>
    public int Beam { get; init; } = 1;

    /// <summary>The most tokens an output may have (default twice the longest training target, plus 10).</summary>
    public int? MaxLength { get; init; }

    /// <summary>Eval: also write source, reference and hypothesis per pair to this TSV file.</summary>
    public string? Output { get; init; }

    /// <summary>Throws on a bad beam, length or batch size.</summary>
    public void Validate()
    {
        if (Beam < 1)
            throw new LstmException($"--beam {Beam}: must be at least 1");
        if (MaxLength is < 1)
            throw new LstmException($"--max-length {MaxLength}: must be at least 1");
        if (BatchSize < 1)
            throw new LstmException($"--batch-size {BatchSize}: must be at least 1");
    }
}

/// <summary>What <see cref="Seq2SeqEvaluation.Evaluate"/> measured.</summary>
/// <param name="ModelDirectory">Where the weights came from (model/, best/ or last/).</param>
/// <param name="What">The pairs scored.</param>
/// <param name="Pairs">How many.</param>
/// <param name="TeacherForced">Cross-entropy and token accuracy with teacher forcing.</param>
/// <param name="ExactMatches">Decoded outputs equal to their reference, token for token.</param>
/// <param name="Bleu">Corpus BLEU-4 of the decoded outputs.</param>
/// <param name="TokenWord">What BLEU counts: characters or words.</param>
/// <param name="Beam">K (1: greedy).</param>
public sealed record Seq2SeqReport(string ModelDirectory, string What, int Pairs, TeacherForcedScore TeacherForced, int ExactMatches, BleuScore Bleu, string TokenWord, int Beam)
{
    /// <summary>ExactMatches / Pairs.</summary>
    public double ExactMatch => Pairs > 0 ? (double)ExactMatches / Pairs : 0;
}

/// <summary>
/// <c>lstm eval</c> and <c>lstm translate</c> for an encoder-decoder run: its trained model
/// (<c>model/</c>, else <c>best/</c>, else <c>last/</c>) scored teacher-forced and decoded
/// (greedy or beam search) on the run's validation pairs, a pairs file or its task; sources
/// translated. A source token the vocabulary lacks reads as <c>&lt;unk&gt;</c>.
/// </summary>
public static class Seq2SeqEvaluation
{
    /// <summary>Scores the run's model: exact match, token accuracy and corpus BLEU; writes the outputs when asked.</summary>
    /// <param name="s">What to score.</param>
    /// <exception cref="LstmException">The folder, file, a line or an option is bad.</exception>
    public static Seq2SeqReport Evaluate(Seq2SeqEvaluationSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        s.Validate();
        var settings = Seq2SeqRun.ReadSettings(s.Run);
        using var folder = RunFolder.Open(s.Run);
        string modelDir = folder.TrainedModel();
        var description = PairData.Load(Path.Combine(modelDir, PairData.FileName));
        IReadOnlyList<TextPair> pairs;
        string what;
        if (s.Pairs is { } file)
        {
            if (s.Task is not null)
                throw new LstmException("give --pairs or --task, not both");
            pairs = SentencePairs.Read(file);
            what = $"{pairs.Count} pairs of {file}";
        }
        else if (s.Task is { } task)
        {
            if (task != description.Task)
                throw new LstmException($"--task {task}: the run's model was trained on {(description.Task is { } t ? "--task " + t : "a pairs file; evaluate it with --pairs")}");
            pairs = SentencePairs.Task(task, s.Samples ?? Seq2SeqSettings.DefaultValSamples, s.Seed ?? settings.SeedOrDefault + 1, settings.SeqLen ?? SentencePairs.DefaultReverseLength);
            what = $"{pairs.Count} pairs of task {task}";
        }
        else
        {
            pairs = Seq2SeqData.Prepare(settings).ValidationPairs;
            what = $"the run's {pairs.Count} validation pairs";
        }

        var set = description.Encode(pairs, s.Pairs ?? what, int.MaxValue);
        using var dev = ComputeDevice.Open(s.Device);
        using var model = new Seq2SeqBatchModel(Seq2SeqModel<float>.Load(dev, modelDir));
        var forced = Seq2SeqScoring.TeacherForced(model, set, s.BatchSize);
        var outputs = Seq2SeqScoring.Decode(model.Model, set.Sources, s.Beam, MaxLengthOf(s, description));
        var target = description.TargetTokens;
        var hypotheses = outputs.Select(o => (IReadOnlyList<string>)o.Select(id => target.Tokens[id]).ToList()).ToList();
        var references = pairs.Select(p => (IReadOnlyList<string>)ClassifierData.Tokenize(p.Target!, description.Tokens)).ToList();
        int exact = hypotheses.Zip(references).Count(p => p.First.SequenceEqual(p.Second, StringComparer.Ordinal));
        if (s.Output is { } output)
        {
            var text = new StringBuilder("source\treference\thypothesis\n");
            for (int i = 0; i < pairs.Count; i++)
                text.Append(OneLine(pairs[i].Source)).Append('\t').Append(OneLine(pairs[i].Target!)).Append('\t').Append(OneLine(target.Decode(outputs[i]))).Append('\n');
            AtomicFile.WriteAllText(output, text.ToString());
        }

        return new Seq2SeqReport(modelDir, what, pairs.Count, forced, exact, Bleu.Corpus(hypotheses, references), description.TokenWord, s.Beam);
    }

    /// <summary>Translates sources with the run's model, one output text per source.</summary>
    /// <param name="s">The run, device, beam and length limit.</param>
    /// <param name="sources">The sources (their <see cref="TextPair.Line"/> names a file's line in messages).</param>
    /// <param name="origin">The file or <c>--input</c>, for messages.</param>
    /// <exception cref="LstmException">A source has no tokens, or the folder or an option is bad.</exception>
    public static IReadOnlyList<string> Translate(Seq2SeqEvaluationSettings s, IReadOnlyList<TextPair> sources, string origin)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(sources);
        s.Validate();
        if (!Seq2SeqRun.IsSeq2SeqRun(s.Run))
            throw new LstmException($"--run {s.Run}: not an encoder-decoder run (its config.json's kind is not {Seq2SeqRun.RunKind})");
        using var folder = RunFolder.Open(s.Run);
        string modelDir = folder.TrainedModel();
        var description = PairData.Load(Path.Combine(modelDir, PairData.FileName));
        var ids = sources.Select(p => description.EncodeSource(p.Source, origin, p.Line, int.MaxValue)).ToList();
        using var dev = ComputeDevice.Open(s.Device);
        using var model = Seq2SeqModel<float>.Load(dev, modelDir);
        return Seq2SeqScoring.Decode(model, ids, s.Beam, MaxLengthOf(s, description)).Select(o => description.TargetTokens.Decode(o)).ToList();
    }

    private static int MaxLengthOf(Seq2SeqEvaluationSettings s, PairData d) => s.MaxLength ?? (2 * d.MaxTargetTokens) + 10;

    private static string OneLine(string text) => text.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
}
