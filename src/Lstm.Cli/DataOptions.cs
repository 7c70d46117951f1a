using CommandLine;
using Lstm.Runtime;
using Lstm.Runtime.Data;

namespace Lstm.Cli;

/// <summary>The options that say where samples come from (<c>lstm train</c>, <c>lstm eval</c>).</summary>
public abstract class DataOptions
{
    /// <summary>A synthetic task.</summary>
    [Option("task", HelpText = "Synthetic task: sine (the default), adding, copy or mackey-glass.")]
    public string? Task { get; set; }

    /// <summary>T of a synthetic task.</summary>
    [Option("seq-len", HelpText = "Synthetic task: the window (sine, mackey-glass), length (adding) or delay (copy). Default 20.")]
    public int? SeqLen { get; set; }

    /// <summary>Training samples of a task.</summary>
    [Option("train-samples", HelpText = "Synthetic task: training samples. Default 2048.")]
    public int? TrainSamples { get; set; }

    /// <summary>Validation samples of a task.</summary>
    [Option("val-samples", HelpText = "Synthetic task: validation (or evaluation) samples. Default 256.")]
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
    [Option("window", HelpText = "CSV and text: steps per input window. Default 24 (CSV), 64 (text).")]
    public int? Window { get; set; }

    /// <summary>Horizon.</summary>
    [Option("horizon", HelpText = "CSV: forecast the row this many rows after a window's last. Default 1.")]
    public int? Horizon { get; set; }

    /// <summary>Normalization.</summary>
    [Option("normalize", HelpText = "CSV: zscore (statistics of the training rows, the default) or none.")]
    public string? Normalize { get; set; }

    /// <summary>Missing values.</summary>
    [Option("missing", HelpText = "CSV: a missing or non-numeric value is an error (the default), or drop its row, fill-previous or fill-zero.")]
    public string? Missing { get; set; }

    /// <summary>Validation fraction.</summary>
    [Option("val-fraction", HelpText = "CSV and text: the trailing fraction of rows or characters that validates. Default 0.2.")]
    public double? ValFraction { get; set; }

    /// <summary>A text file.</summary>
    [Option("text", HelpText = "Text file: train a character-level language model.")]
    public string? Text { get; set; }

    /// <summary>Whether any data option was given.</summary>
    internal bool AnyData =>
        Task is not null || SeqLen is not null || TrainSamples is not null || ValidationSamples is not null || Csv is not null || Target is not null
        || Features is not null || Window is not null || Horizon is not null || Normalize is not null || Missing is not null || ValFraction is not null || Text is not null;

    /// <summary>
    /// The spec these options state, on top of <paramref name="basis"/> (a trained run's, for eval)
    /// or the defaults; its seed is the basis's (the caller sets the run's).
    /// </summary>
    /// <param name="basis">Values for the options not given, or null for the defaults.</param>
    internal DataSpec ToSpec(DataSpec? basis = null)
    {
        int sources = (Task is null ? 0 : 1) + (Csv is null ? 0 : 1) + (Text is null ? 0 : 1);
        if (sources > 1)
            throw new LstmException($"give one of --task, --csv and --text (got {string.Join(", ", new[] { ("--task", Task), ("--csv", Csv), ("--text", Text) }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1} {p.Item2}"))})");
        string source = Csv is not null ? "csv" : Text is not null ? "text" : Task is not null ? "task" : basis?.Source ?? "task";
        var spec = basis is not null && basis.Source == source ? basis : new DataSpec { Source = source, Window = source == "text" ? 64 : 24 };
        if (source != "csv")
            Reject(source, ("--target", Target), ("--features", Features), ("--horizon", Horizon), ("--normalize", Normalize), ("--missing", Missing));
        if (source != "task")
            Reject(source, ("--seq-len", SeqLen), ("--train-samples", TrainSamples), ("--val-samples", ValidationSamples));
        else
            Reject(source, ("--window", Window), ("--val-fraction", ValFraction));
        spec = spec with
        {
            Source = source,
            Task = source == "task" ? (Task ?? spec.Task ?? "sine").Trim().ToLowerInvariant() : null,
            Path = Csv ?? Text ?? spec.Path,
            SeqLen = SeqLen ?? spec.SeqLen,
            TrainSamples = TrainSamples ?? spec.TrainSamples,
            ValidationSamples = ValidationSamples ?? spec.ValidationSamples,
            Targets = Target is null ? spec.Targets : Columns(Target),
            Features = Features is null ? spec.Features : Columns(Features),
            Window = Window ?? spec.Window,
            Horizon = Horizon ?? spec.Horizon,
            Normalize = Normalize?.Trim().ToLowerInvariant() ?? spec.Normalize,
            Missing = Missing?.Trim().ToLowerInvariant() ?? spec.Missing,
            ValFraction = ValFraction ?? spec.ValFraction,
        };
        spec.Validate();
        return spec;
    }

    private static string[] Columns(string list) => list.Split(',').Select(c => c.Trim()).ToArray();

    private static void Reject(string source, params (string Option, object? Value)[] options)
    {
        foreach (var (option, value) in options)
        {
            if (value is not null)
                throw new LstmException($"{option} {value}: does not apply to {(source == "task" ? "a synthetic task" : source == "csv" ? "--csv" : "--text")}");
        }
    }
}
