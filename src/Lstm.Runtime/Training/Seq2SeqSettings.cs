using System.Text.Json;
using System.Text.Json.Serialization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>
/// The settings of an encoder-decoder run (<c>lstm train --pairs</c> or <c>--task reverse|dates</c>),
/// null where not given (the defaults below apply), recorded whole in the run's <c>config.json</c>
/// so that a resume prepares the same data and model.
/// </summary>
public sealed record Seq2SeqSettings : TrainingLoopOptions, ITrainingLoopSettings
{
    /// <summary>Hidden size by default.</summary>
    public const int DefaultHidden = 128;

    /// <summary>Embedding size by default.</summary>
    public const int DefaultEmbeddingDim = 32;

    /// <summary>Each vocabulary's cap by default.</summary>
    public const int DefaultVocabSize = 10000;

    /// <summary>The most tokens of a side by default.</summary>
    public const int DefaultMaxLength = 200;

    /// <summary>Steps by default.</summary>
    public const int DefaultSteps = 2000;

    /// <summary>Batch size by default.</summary>
    public const int DefaultBatchSize = 64;

    /// <summary>Learning rate by default (Adam).</summary>
    public const double DefaultLearningRate = 3e-3;

    /// <summary>Validation fraction of a pairs file by default.</summary>
    public const double DefaultValFraction = 0.1;

    /// <summary>A task's training pairs by default.</summary>
    public const int DefaultTrainSamples = 5000;

    /// <summary>A task's validation pairs by default.</summary>
    public const int DefaultValSamples = 500;

    /// <summary>The task (<c>reverse</c> or <c>dates</c>), or null for a pairs file.</summary>
    public string? Task { get; init; }

    /// <summary>The reversal task's longest string.</summary>
    public int? SeqLen { get; init; }

    /// <summary>The task's training pairs.</summary>
    public int? TrainSamples { get; init; }

    /// <summary>The task's validation pairs.</summary>
    public int? ValSamples { get; init; }

    /// <summary>The pairs file (source TAB target per line).</summary>
    public string? Pairs { get; init; }

    /// <summary><c>char</c> (the default) or <c>word</c>.</summary>
    public string? Tokens { get; init; }

    /// <summary>Each vocabulary's cap, the four specials included.</summary>
    public int? VocabSize { get; init; }

    /// <summary>The validation fraction of a file's pairs (a seeded draw).</summary>
    public double? ValFraction { get; init; }

    /// <summary>The most tokens a source or target may have.</summary>
    public int? MaxLength { get; init; }

    /// <summary>lstm or gru.</summary>
    public string? Cell { get; init; }

    /// <summary>H.</summary>
    public int? Hidden { get; init; }

    /// <summary>L (encoder and decoder).</summary>
    public int? Layers { get; init; }

    /// <summary>E.</summary>
    public int? EmbeddingDim { get; init; }

    /// <summary>A bidirectional encoder.</summary>
    public bool Bidirectional { get; init; }

    /// <summary>luong (the default) or bahdanau.</summary>
    public string? Attention { get; init; }

    /// <summary>Dropout between layers.</summary>
    public double? Dropout { get; init; }

    /// <summary>The side length limit in effect.</summary>
    [JsonIgnore]
    public int MaxLengthOrDefault => MaxLength ?? DefaultMaxLength;

    /// <summary>Throws one <see cref="LstmException"/> naming the first bad or missing option.</summary>
    public void Validate()
    {
        if (Task is not null)
        {
            if (!SentencePairs.IsTask(Task))
                throw new LstmException($"--task {Task}: an encoder-decoder trains on --task {SentencePairs.Reverse}, --task {SentencePairs.Dates} or a --pairs file");
            if (Pairs is not null)
                throw new LstmException($"--task {Task} takes no --pairs file; give one or the other");
            if (SeqLen is not null && Task != SentencePairs.Reverse)
                throw new LstmException($"--seq-len is the longest string of --task {SentencePairs.Reverse}; --task {Task} has its own lengths");
            if (ValFraction is not null)
                throw new LstmException($"--val-fraction splits a --pairs file; --task {Task} draws --val-samples pairs of its own");
        }
        else if (Pairs is null)
        {
            throw new LstmException($"an encoder-decoder needs --pairs FILE (source TAB target per line) or --task {SentencePairs.Reverse}|{SentencePairs.Dates}");
        }
        else if (TrainSamples is not null || ValSamples is not null || SeqLen is not null)
        {
            throw new LstmException("--train-samples, --val-samples and --seq-len are for --task; a --pairs file is split by --val-fraction");
        }

        if (Tokens is not null)
            ClassifierData.CheckTokens(Tokens);
        TrainingLoopSettings.AtLeast("--vocab-size", VocabSize, TokenVocabulary.Specials.Count + 1);
        TrainingLoopSettings.AtLeast("--max-length", MaxLength, 1);
        TrainingLoopSettings.AtLeast("--seq-len", SeqLen, 1);
        TrainingLoopSettings.Validate(this);
        if (Dropout is { } d && !(d >= 0 && d < 1))
            throw new LstmException($"--dropout {TrainingLoopSettings.Number(d)}: must lie in [0, 1)");
        if (Attention is not null)
            ModelConfig.ParseAttention(Attention);
        if (Cell is not null && ModelConfig.ParseCell(Cell) is not (CellKind.Lstm or CellKind.Gru))
            throw new LstmException($"--cell {Cell}: an encoder-decoder's cell is lstm or gru");
    }

    /// <summary>The settings as JSON (for <c>config.json</c>).</summary>
    public JsonElement ToJson() => JsonSerializer.SerializeToElement(this, Seq2SeqJson.Default.Seq2SeqSettings);

    /// <summary>The settings from <see cref="ToJson"/>'s JSON, checked.</summary>
    /// <param name="json">The element.</param>
    /// <param name="source">The file, for messages.</param>
    public static Seq2SeqSettings FromJson(JsonElement json, string source) =>
        TrainingLoopSettings.FromJson(json, Seq2SeqJson.Default.Seq2SeqSettings, source, "encoder-decoder settings", s => s.Validate());
}

/// <summary>Source-generated JSON for an encoder-decoder run's files.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Seq2SeqSettings))]
[JsonSerializable(typeof(Seq2SeqRunFile))]
internal sealed partial class Seq2SeqJson : JsonSerializerContext
{
}

/// <summary>An encoder-decoder run's <c>config.json</c>: <c>kind</c> is <c>seq2seq</c>, the model's configuration, the settings.</summary>
internal sealed class Seq2SeqRunFile
{
    public string Kind { get; set; } = Seq2SeqRun.RunKind;

    public JsonElement Model { get; set; }

    public JsonElement Settings { get; set; }
}
