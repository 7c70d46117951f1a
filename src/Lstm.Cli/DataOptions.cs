using CommandLine;
using Lstm.Runtime.Data;

namespace Lstm.Cli;

/// <summary>The options that say where samples come from (<c>lstm train</c>, <c>lstm eval</c>).</summary>
public abstract class DataOptions
{
    /// <summary>A synthetic task.</summary>
    [Option("task", HelpText = "Synthetic task: " + DataDefaults.Task + " (the default), adding, copy or mackey-glass; or classify (a sequence classifier: which of 4 symbols occurs most in a sequence of random length); or a sequence labeller's label (each step's label is the running sum of 4 symbols mod 3) or ctc (the label sequence spoken in noisy frames, CTC); or reverse or dates (an encoder-decoder: reverse a string, or write a date as yyyy-mm-dd).")]
    public string? Task { get; set; }

    /// <summary>T of a synthetic task.</summary>
    [Option("seq-len", HelpText = nameof(DataHelp.SeqLen), ResourceType = typeof(DataHelp))]
    public int? SeqLen { get; set; }

    /// <summary>Training samples of a task.</summary>
    [Option("train-samples", HelpText = nameof(DataHelp.TrainSamples), ResourceType = typeof(DataHelp))]
    public int? TrainSamples { get; set; }

    /// <summary>Validation samples of a task.</summary>
    [Option("val-samples", HelpText = nameof(DataHelp.ValidationSamples), ResourceType = typeof(DataHelp))]
    public int? ValidationSamples { get; set; }

    /// <summary>A CSV time series.</summary>
    [Option("csv", HelpText = "CSV file with a header row: forecast --target from windows of --features.")]
    public string? Csv { get; set; }

    /// <summary>Target columns.</summary>
    [Option("target", HelpText = "CSV: the column(s) to forecast, COL[,COL...].")]
    public string? Target { get; set; }

    /// <summary>Feature columns.</summary>
    [Option("features", HelpText = "CSV: the input column(s), COL[,COL...]. Default: the target columns.")]
    public string? Features { get; set; }

    /// <summary>Window.</summary>
    [Option("window", HelpText = nameof(DataHelp.Window), ResourceType = typeof(DataHelp))]
    public int? Window { get; set; }

    /// <summary>Horizon.</summary>
    [Option("horizon", HelpText = nameof(DataHelp.Horizon), ResourceType = typeof(DataHelp))]
    public int? Horizon { get; set; }

    /// <summary>Normalization.</summary>
    [Option("normalize", HelpText = "CSV: global or " + DataDefaults.Normalize + " (z-scores with the training rows' statistics, the default), window (each window less its last value, over the training rows' std: for trends) or none.")]
    public string? Normalize { get; set; }

    /// <summary>Differencing.</summary>
    [Option("difference", HelpText = "CSV: model the D-th difference of the columns (0, the default, 1 or 2) and integrate the forecasts back.")]
    public int? Difference { get; set; }

    /// <summary>Target mode.</summary>
    [Option("target-mode", HelpText = "CSV: " + DataDefaults.TargetMode + " (the default: the targets' values) or change (their change from the window's last value).")]
    public string? TargetMode { get; set; }

    /// <summary>Missing values.</summary>
    [Option("missing", HelpText = "CSV: a missing or non-numeric value is an " + DataDefaults.Missing + " (the default), or drop its row, fill-previous or fill-zero.")]
    public string? Missing { get; set; }

    /// <summary>Validation fraction.</summary>
    [Option("val-fraction", HelpText = nameof(DataHelp.ValFraction), ResourceType = typeof(DataHelp))]
    public double? ValFraction { get; set; }

    /// <summary>Test fraction.</summary>
    [Option("test-fraction", HelpText = nameof(DataHelp.TestFraction), ResourceType = typeof(DataHelp))]
    public double? TestFraction { get; set; }

    /// <summary>Season of the seasonal naive baseline.</summary>
    [Option("season", HelpText = "CSV: rows per season of the seasonal naive baseline (≥ 2). Default: detected from the training rows (the autocorrelation's peak).")]
    public int? Season { get; set; }

    /// <summary>A text file.</summary>
    [Option("text", HelpText = "Text file: train a character-level language model.")]
    public string? Text { get; set; }

    /// <summary>Classification: the text column.</summary>
    [Option("text-column", HelpText = "CSV: classify the text of this column (one sequence per row; see --tokens). With --label-column. A sequence labeller with --sequence-column: one token per row.")]
    public string? TextColumn { get; set; }

    /// <summary>Classification: the label column.</summary>
    [Option("label-column", HelpText = "CSV: the class label of each sequence; trains a sequence classifier (with --text-column, or --sequence-column and --features). A sequence labeller: each row's label, or with --loss ctc the sequence's labels separated by spaces (on its first row; the others the same or empty).")]
    public string? LabelColumn { get; set; }

    /// <summary>Classification: the sequence id column.</summary>
    [Option("sequence-column", HelpText = "CSV: consecutive rows with the same value here form one sequence (of any length) of the --features values. With --label-column.")]
    public string? SequenceColumn { get; set; }

    /// <summary>Classification: tokens.</summary>
    [Option("tokens", HelpText = "With --text-column or --pairs: char (Unicode characters, the default) or word (lower-cased runs of letters, digits and apostrophes).")]
    public string? Tokens { get; set; }

    /// <summary>Classification: the vocabulary cap.</summary>
    [Option("vocab-size", HelpText = "With --text-column or --pairs (each side): keep the most frequent training tokens, this many with <unk> (unknown tokens) and the other specials included. Default 10000.")]
    public int? VocabSize { get; set; }

    /// <summary>Encoder-decoder: the pairs file.</summary>
    [Option("pairs", HelpText = "Encoder-decoder: a UTF-8 file of one source, a tab and its target per line (blank lines skipped).")]
    public string? Pairs { get; set; }

    /// <summary>Encoder-decoder: the length limit.</summary>
    [Option("max-length", HelpText = "Encoder-decoder: train refuses a source or target of more tokens (default 200); eval stops an output at this many tokens (default twice the longest training target + 10).")]
    public int? MaxLength { get; set; }

    /// <summary>Whether the options ask for an encoder-decoder.</summary>
    internal bool Translates => Pairs is not null || SentencePairs.IsTask(Task);

    /// <summary>Whether the options ask for a sequence classifier.</summary>
    internal bool Classifies => LabelColumn is not null || TextColumn is not null || SequenceColumn is not null || Task is "classify" or "label" or "ctc";

    /// <summary>The data options as the runtime's selection (null where not given).</summary>
    internal DataSelection Selection => new()
    {
        Task = Task,
        SeqLen = SeqLen,
        TrainSamples = TrainSamples,
        ValidationSamples = ValidationSamples,
        Csv = Csv,
        Target = Target,
        Features = Features,
        Window = Window,
        Horizon = Horizon,
        Normalize = Normalize,
        Difference = Difference,
        TargetMode = TargetMode,
        Missing = Missing,
        ValFraction = ValFraction,
        TestFraction = TestFraction,
        Season = Season,
        Text = Text,
    };

    /// <summary>Whether any data option was given.</summary>
    internal bool AnyData => Selection.AnyGiven;

    /// <summary>The spec these options state, on top of <paramref name="basis"/> or the defaults (<see cref="DataSelection.ToSpec"/>).</summary>
    /// <param name="basis">Values for the options not given, or null for the defaults.</param>
    internal DataSpec ToSpec(DataSpec? basis = null) => Selection.ToSpec(basis);
}
