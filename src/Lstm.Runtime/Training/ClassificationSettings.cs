using System.Text.Json;
using System.Text.Json.Serialization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>
/// The settings of a sequence-classification or sequence-labelling run (<c>lstm train</c> with a
/// label column, <c>--task classify|label|ctc</c>, <c>--kind sequence-labeller</c> or <c>--loss ctc</c>),
/// null where not given (the defaults below apply), recorded whole in the run's <c>config.json</c>
/// so that a resume prepares the same data and model.
/// </summary>
public sealed record ClassificationSettings : TrainingLoopOptions, ITrainingLoopSettings
{
    /// <summary>Hidden size by default.</summary>
    public const int DefaultHidden = 64;

    /// <summary>Embedding size by default (tokens).</summary>
    public const int DefaultEmbeddingDim = 32;

    /// <summary>Vocabulary cap by default (text).</summary>
    public const int DefaultVocabSize = 10000;

    /// <summary>Steps by default.</summary>
    public const int DefaultSteps = 1000;

    /// <summary>Learning rate by default (Adam).</summary>
    public const double DefaultLearningRate = 5e-3;

    /// <summary>Validation fraction of a CSV file by default.</summary>
    public const double DefaultValFraction = 0.2;

    /// <summary>The model kind: <c>sequence-classifier</c> (null: the default unless <see cref="Loss"/> or <see cref="Task"/> says otherwise) or <c>sequence-labeller</c>.</summary>
    public string? Kind { get; init; }

    /// <summary>A labeller's loss: <c>ce</c> (a label per step; the default) or <c>ctc</c> (a label sequence per sequence, blank 0).</summary>
    public string? Loss { get; init; }

    /// <summary>The synthetic task (<c>classify</c>, or a labeller's <c>label</c> or <c>ctc</c>), or null for a CSV file.</summary>
    public string? Task { get; init; }

    /// <summary>The task's longest sequence.</summary>
    public int? SeqLen { get; init; }

    /// <summary>The task's training samples.</summary>
    public int? TrainSamples { get; init; }

    /// <summary>The task's validation samples.</summary>
    public int? ValSamples { get; init; }

    /// <summary>The CSV file.</summary>
    public string? Csv { get; init; }

    /// <summary>The text column (a text per row).</summary>
    public string? TextColumn { get; init; }

    /// <summary>The label column.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>The sequence id column (rows of one id form a sequence of features).</summary>
    public string? SequenceColumn { get; init; }

    /// <summary>The feature columns, comma-separated.</summary>
    public string? Features { get; init; }

    /// <summary><c>char</c> (the default) or <c>word</c>.</summary>
    public string? Tokens { get; init; }

    /// <summary>The vocabulary cap, <c>&lt;unk&gt;</c> included.</summary>
    public int? VocabSize { get; init; }

    /// <summary>The validation fraction of a CSV file's sequences (a seeded draw).</summary>
    public double? ValFraction { get; init; }

    /// <summary>lstm, gru, rnn-tanh or rnn-relu.</summary>
    public string? Cell { get; init; }

    /// <summary>H.</summary>
    public int? Hidden { get; init; }

    /// <summary>L.</summary>
    public int? Layers { get; init; }

    /// <summary>E (tokens).</summary>
    public int? EmbeddingDim { get; init; }

    /// <summary>Bidirectional layers.</summary>
    public bool Bidirectional { get; init; }

    /// <summary>Dropout between layers.</summary>
    public double? Dropout { get; init; }

    /// <summary>last, mean (the default) or max.</summary>
    public string? Pool { get; init; }

    /// <summary><c>balanced</c> (weights N / (C·n_c) from the training labels) or null for none.</summary>
    public string? ClassWeights { get; init; }

    /// <summary>Whether a sequence from a CSV file is text (else features; null for the task).</summary>
    [JsonIgnore]
    public bool IsText => TextColumn is not null;

    /// <summary>Whether the run trains a sequence labeller: asked by <see cref="Kind"/>, or implied by <c>--loss ctc</c> or <c>--task label|ctc</c>.</summary>
    [JsonIgnore]
    public bool IsLabeller => Kind == LabellerKind || Loss == "ctc" || Task is LabelTask.Name or CtcTask.Name;

    /// <summary>Whether a labeller trains with CTC (<c>--loss ctc</c>, or <c>--task ctc</c>).</summary>
    [JsonIgnore]
    public bool IsCtc => Loss == "ctc" || (Loss is null && Task == CtcTask.Name);

    /// <summary>The kind name of a labeller.</summary>
    public const string LabellerKind = "sequence-labeller";

    /// <summary>Throws one <see cref="LstmException"/> naming the first bad or missing option.</summary>
    public void Validate()
    {
        if (Kind is not (null or "sequence-classifier" or LabellerKind))
            throw new LstmException($"--kind {Kind}: a run on labelled sequences trains a sequence-classifier or a {LabellerKind}");
        if (Loss is not (null or "ce" or "ctc"))
            throw new LstmException($"--loss {Loss}: must be ce (cross-entropy) or ctc (a label sequence per sequence, blank 0)");
        if (IsLabeller)
        {
            ValidateLabeller();
        }
        else if (Task is not null)
        {
            if (Task != ClassifyTask.Name)
                throw new LstmException($"--task {Task}: a classifier trains on --task {ClassifyTask.Name} or a --csv file with --label-column; a labeller on --task {LabelTask.Name} or {CtcTask.Name}");
            if (Csv is not null || TextColumn is not null || SequenceColumn is not null || LabelColumn is not null)
                throw new LstmException($"--task {Task} takes no --csv, --text-column, --sequence-column or --label-column");
            if (Loss is not null)
                throw new LstmException($"--loss {Loss}: a sequence classifier trains with cross-entropy (give --kind {LabellerKind} for a labeller)");
        }
        else
        {
            if (Loss is not null)
                throw new LstmException($"--loss {Loss}: a sequence classifier trains with cross-entropy (give --kind {LabellerKind} for a labeller)");
            if (Csv is null)
                throw new LstmException("a classifier needs --csv FILE (with --label-column) or --task classify");
            if (LabelColumn is null)
                throw new LstmException($"--csv {Csv}: a classifier needs --label-column");
            if ((TextColumn is null) == (SequenceColumn is null))
                throw new LstmException($"--csv {Csv}: give either --text-column (a text per row) or --sequence-column with --features (rows of one id form a sequence)");
            if (SequenceColumn is not null && string.IsNullOrWhiteSpace(Features))
                throw new LstmException($"--sequence-column {SequenceColumn} needs --features COL[,COL...]");
            if (TextColumn is not null && Features is not null)
                throw new LstmException("--features is for --sequence-column; a text classifier reads --text-column");
        }

        if (Tokens is not null)
            ClassifierData.CheckTokens(Tokens);
        TrainingLoopSettings.AtLeast("--vocab-size", VocabSize, 2);
        TrainingLoopSettings.AtLeast("--seq-len", SeqLen, 2);
        TrainingLoopSettings.Validate(this);
        if (ClassWeights is not (null or "balanced"))
            throw new LstmException($"--class-weights '{ClassWeights}': the one weighting is balanced");
        if (Pool is not null)
            ModelConfig.ParsePool(Pool);
        if (Cell is not null)
            ModelConfig.ParseCell(Cell);
    }

    /// <summary>A labeller's rules: its task and loss agree, a file has an id column, a label column and one input.</summary>
    private void ValidateLabeller()
    {
        if (Kind == "sequence-classifier")
            throw new LstmException($"--kind sequence-classifier: {(Loss == "ctc" ? "--loss ctc" : $"--task {Task}")} trains a {LabellerKind}");
        if (Pool is not null)
            throw new LstmException($"--pool {Pool}: a {LabellerKind} labels every step and pools nothing");
        if (Tokens is not null)
            throw new LstmException($"--tokens {Tokens}: a {LabellerKind} reads one token per row of --text-column as it is written");
        if (IsCtc && ClassWeights is not null)
            throw new LstmException("--class-weights is for the cross-entropy loss, not ctc");
        if (Task is not null)
        {
            if (Task is not (LabelTask.Name or CtcTask.Name))
                throw new LstmException($"--task {Task}: a {LabellerKind} trains on --task {LabelTask.Name} (a label per step, cross-entropy) or --task {CtcTask.Name} (CTC), or a --csv file");
            if ((Task == CtcTask.Name) != IsCtc)
                throw new LstmException($"--task {Task} trains with --loss {(Task == CtcTask.Name ? "ctc" : "ce")}, not {Loss}");
            if (Csv is not null || TextColumn is not null || SequenceColumn is not null || LabelColumn is not null || Features is not null)
                throw new LstmException($"--task {Task} takes no --csv, --text-column, --sequence-column, --features or --label-column");
            if (Task == CtcTask.Name && SeqLen is not null)
                throw new LstmException($"--seq-len: --task {CtcTask.Name} draws its own lengths (up to {CtcTask.MaxLabels} labels of 2 to 4 frames)");
            return;
        }

        if (Csv is null)
            throw new LstmException($"a {LabellerKind} needs --csv FILE (with --sequence-column and --label-column) or --task {LabelTask.Name}|{CtcTask.Name}");
        if (SequenceColumn is null || LabelColumn is null)
            throw new LstmException($"--csv {Csv}: a {LabellerKind} needs --sequence-column (rows of one id form a sequence) and --label-column ({(IsCtc ? "the target label sequence" : "a label per row")})");
        if ((TextColumn is null) == string.IsNullOrWhiteSpace(Features))
            throw new LstmException($"--csv {Csv}: give either --features COL[,COL...] (values per row) or --text-column (one token per row)");
    }

    /// <summary>The settings as JSON (for <c>config.json</c>).</summary>
    public JsonElement ToJson() => JsonSerializer.SerializeToElement(this, ClassificationJson.Default.ClassificationSettings);

    /// <summary>The settings from <see cref="ToJson"/>'s JSON.</summary>
    /// <param name="json">The element.</param>
    /// <param name="source">The file, for messages.</param>
    public static ClassificationSettings FromJson(JsonElement json, string source) =>
        TrainingLoopSettings.FromJson(json, ClassificationJson.Default.ClassificationSettings, source, "classification settings", s => s.Validate());
}

/// <summary>Source-generated JSON for a classification run's files.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClassificationSettings))]
[JsonSerializable(typeof(ClassificationRunFile))]
internal sealed partial class ClassificationJson : JsonSerializerContext
{
}

/// <summary>A classification run's <c>config.json</c>: <c>kind</c> is <c>sequence-classification</c>, the model's configuration, the settings.</summary>
internal sealed class ClassificationRunFile
{
    public string Kind { get; set; } = ClassificationRun.RunKind;

    public JsonElement Model { get; set; }

    public JsonElement Settings { get; set; }
}
