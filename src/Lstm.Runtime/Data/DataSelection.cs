namespace Lstm.Runtime.Data;

/// <summary>
/// The data a user names on the command line (<c>--task</c>, <c>--csv</c>, <c>--text</c> and the
/// options of each), every value null where not given. <see cref="ToSpec"/> applies the rules:
/// one source at most, no option of another source, the defaults of the source chosen; the
/// messages name the command-line options.
/// </summary>
public sealed record DataSelection
{
    /// <summary>A synthetic task (<c>--task</c>).</summary>
    public string? Task { get; init; }

    /// <summary>T of a synthetic task (<c>--seq-len</c>).</summary>
    public int? SeqLen { get; init; }

    /// <summary>Training samples of a task (<c>--train-samples</c>).</summary>
    public int? TrainSamples { get; init; }

    /// <summary>Validation samples of a task (<c>--val-samples</c>).</summary>
    public int? ValidationSamples { get; init; }

    /// <summary>A CSV time series (<c>--csv</c>).</summary>
    public string? Csv { get; init; }

    /// <summary>Target columns, comma-separated (<c>--target</c>).</summary>
    public string? Target { get; init; }

    /// <summary>Feature columns, comma-separated (<c>--features</c>).</summary>
    public string? Features { get; init; }

    /// <summary>W (<c>--window</c>).</summary>
    public int? Window { get; init; }

    /// <summary>h (<c>--horizon</c>).</summary>
    public int? Horizon { get; init; }

    /// <summary><c>--normalize</c>.</summary>
    public string? Normalize { get; init; }

    /// <summary><c>--difference</c>.</summary>
    public int? Difference { get; init; }

    /// <summary><c>--target-mode</c>.</summary>
    public string? TargetMode { get; init; }

    /// <summary><c>--missing</c>.</summary>
    public string? Missing { get; init; }

    /// <summary><c>--val-fraction</c>.</summary>
    public double? ValFraction { get; init; }

    /// <summary><c>--test-fraction</c> (CSV).</summary>
    public double? TestFraction { get; init; }

    /// <summary><c>--season</c> (CSV): rows per season of the seasonal naive baseline.</summary>
    public int? Season { get; init; }

    /// <summary>A text file (<c>--text</c>).</summary>
    public string? Text { get; init; }

    /// <summary>Whether any value was given.</summary>
    public bool AnyGiven =>
        Task is not null || SeqLen is not null || TrainSamples is not null || ValidationSamples is not null || Csv is not null || Target is not null
        || Features is not null || Window is not null || Horizon is not null || Normalize is not null || Difference is not null || TargetMode is not null || Missing is not null || ValFraction is not null || TestFraction is not null || Season is not null || Text is not null;

    /// <summary>
    /// The spec these values state, on top of <paramref name="basis"/> (a trained run's, for
    /// evaluation) or the defaults; its seed is the basis's (the caller sets the run's). Checked.
    /// </summary>
    /// <param name="basis">Values for those not given, or null for the defaults.</param>
    /// <exception cref="LstmException">More than one source, an option of another source, or a bad value.</exception>
    public DataSpec ToSpec(DataSpec? basis = null)
    {
        int sources = (Task is null ? 0 : 1) + (Csv is null ? 0 : 1) + (Text is null ? 0 : 1);
        if (sources > 1)
            throw new LstmException($"give one of --task, --csv and --text (got {string.Join(", ", new[] { ("--task", Task), ("--csv", Csv), ("--text", Text) }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1} {p.Item2}"))})");
        string source = Csv is not null ? "csv" : Text is not null ? "text" : Task is not null ? "task" : basis?.Source ?? "task";
        var spec = basis is not null && basis.Source == source ? basis : new DataSpec { Source = source, Window = DataDefaults.WindowFor(source), TestFraction = source == "csv" ? DataDefaults.TestFraction : 0 };
        if (source != "csv")
            Reject(source, ("--target", Target), ("--features", Features), ("--horizon", Horizon), ("--normalize", Normalize), ("--difference", Difference), ("--target-mode", TargetMode), ("--missing", Missing), ("--test-fraction", TestFraction), ("--season", Season));
        if (source != "task")
            Reject(source, ("--seq-len", SeqLen), ("--train-samples", TrainSamples), ("--val-samples", ValidationSamples));
        else
            Reject(source, ("--window", Window), ("--val-fraction", ValFraction));
        spec = spec with
        {
            Source = source,
            Task = source == "task" ? (Task ?? spec.Task ?? DataDefaults.Task).Trim().ToLowerInvariant() : null,
            Path = Csv ?? Text ?? spec.Path,
            SeqLen = SeqLen ?? spec.SeqLen,
            TrainSamples = TrainSamples ?? spec.TrainSamples,
            ValidationSamples = ValidationSamples ?? spec.ValidationSamples,
            Targets = Target is null ? spec.Targets : Columns(Target),
            Features = Features is null ? spec.Features : Columns(Features),
            Window = Window ?? spec.Window,
            Horizon = Horizon ?? spec.Horizon,
            Normalize = Normalize?.Trim().ToLowerInvariant() ?? spec.Normalize,
            Difference = Difference ?? spec.Difference,
            TargetMode = TargetMode?.Trim().ToLowerInvariant() ?? spec.TargetMode,
            Missing = Missing?.Trim().ToLowerInvariant() ?? spec.Missing,
            ValFraction = ValFraction ?? spec.ValFraction,
            TestFraction = TestFraction ?? spec.TestFraction,
            Season = Season ?? spec.Season,
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

/// <summary>The defaults of a <see cref="DataSpec"/>, in one place (help texts quote them).</summary>
public static class DataDefaults
{
    /// <summary>The synthetic task.</summary>
    public const string Task = "sine";

    /// <summary>T of a synthetic task.</summary>
    public const int SeqLen = 20;

    /// <summary>Training samples of a synthetic task.</summary>
    public const int TrainSamples = 2048;

    /// <summary>Validation samples of a synthetic task.</summary>
    public const int ValidationSamples = 256;

    /// <summary>Seed of a synthetic task's samples.</summary>
    public const int Seed = 1;

    /// <summary>W of a CSV.</summary>
    public const int Window = 24;

    /// <summary>W of a text.</summary>
    public const int TextWindow = 64;

    /// <summary>h of a CSV.</summary>
    public const int Horizon = 1;

    /// <summary>The normalization of a CSV.</summary>
    public const string Normalize = "zscore";

    /// <summary>The targets of a CSV: <c>level</c> or <c>change</c>.</summary>
    public const string TargetMode = "level";

    /// <summary>What a missing CSV value does.</summary>
    public const string Missing = "error";

    /// <summary>The trailing fraction of a CSV's rows kept for the test (a run from before it had none: 0).</summary>
    public const double TestFraction = 0.1;

    /// <summary>The trailing fraction that validates (CSV, text).</summary>
    public const double ValFraction = 0.2;

    /// <summary>W for data of <paramref name="source"/> (<c>text</c> or another).</summary>
    /// <param name="source">The data spec's source.</param>
    public static int WindowFor(string source) => source == "text" ? TextWindow : Window;
}
