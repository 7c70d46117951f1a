using System.Globalization;
using System.Text.Json.Serialization;

namespace Lstm.Runtime.Data;

/// <summary>
/// Where a run's samples come from, as a user states it (on the command line, saved in the run's
/// <c>config.json</c>): a synthetic task, the columns of a CSV time series, or a text file.
/// <see cref="Prepare"/> turns it into training and validation sets, checking every value first.
/// </summary>
/// <remarks>
/// Dimension letters: T steps per sample (the task's length or the window W), F feature columns,
/// O target columns, h the horizon, V the vocabulary (classes) of token data.
/// </remarks>
public sealed partial record DataSpec
{
    /// <summary>The sources <see cref="Source"/> accepts.</summary>
    public const string Sources = "task, csv, text";

    /// <summary><c>task</c>, <c>csv</c> or <c>text</c>.</summary>
    public string Source { get; init; } = "task";

    /// <summary>The synthetic task (<see cref="SyntheticTasks.Names"/>) when <see cref="Source"/> is <c>task</c>.</summary>
    public string? Task { get; init; } = DataDefaults.Task;

    /// <summary>T of a synthetic task: the window (sine, mackey-glass), the length (adding) or the delay (copy).</summary>
    public int SeqLen { get; init; } = DataDefaults.SeqLen;

    /// <summary>Training samples of a synthetic task.</summary>
    public int TrainSamples { get; init; } = DataDefaults.TrainSamples;

    /// <summary>Validation samples of a synthetic task (drawn from another seed).</summary>
    public int ValidationSamples { get; init; } = DataDefaults.ValidationSamples;

    /// <summary>Seed of a synthetic task's samples.</summary>
    public int Seed { get; init; } = DataDefaults.Seed;

    /// <summary>The CSV or text file.</summary>
    public string? Path { get; init; }

    /// <summary>The O target columns of a CSV.</summary>
    public IReadOnlyList<string> Targets { get; init; } = [];

    /// <summary>The F input columns of a CSV; empty means the target columns.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>W: steps per input window (CSV, text).</summary>
    public int Window { get; init; } = DataDefaults.Window;

    /// <summary>H: the forecast covers the H rows after a window's last row, one output each (CSV).</summary>
    public int Horizon { get; init; } = DataDefaults.Horizon;

    /// <summary><c>global</c> or <c>zscore</c> (statistics of the training rows), <c>window</c> (each window less its last value, over the training rows' std) or <c>none</c> (CSV).</summary>
    public string Normalize { get; init; } = DataDefaults.Normalize;

    /// <summary>What to do with a missing or non-numeric CSV value: <c>error</c>, <c>drop</c>, <c>fill-previous</c> or <c>fill-zero</c>.</summary>
    public string Missing { get; init; } = DataDefaults.Missing;

    /// <summary>The trailing fraction of the rows (CSV) or characters (text) that validates, in (0, 1).</summary>
    public double ValFraction { get; init; } = DataDefaults.ValFraction;

    /// <summary>
    /// The trailing fraction of a CSV's rows kept for the test, in [0, 1): never trained on nor
    /// used to choose a checkpoint. 0 (the value of a run that predates it) keeps no test rows;
    /// a new forecast takes <see cref="DataDefaults.TestFraction"/> (<see cref="DataSelection"/>).
    /// </summary>
    public double TestFraction { get; init; }

    /// <summary>The season of a CSV's seasonal naive baseline in rows (≥ 2), or 0 to detect it from the training rows.</summary>
    public int Season { get; init; }

    /// <summary>The feature columns in use: <see cref="Features"/>, or the targets when it is empty.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> FeatureColumns => Features.Count > 0 ? Features : Targets;

    /// <summary>A short name for the data: the task, or the file's name without its extension.</summary>
    [JsonIgnore]
    public string Name => Source == "task" ? Task ?? "task" : System.IO.Path.GetFileNameWithoutExtension(Path ?? Source);

    /// <summary>Checks every value (not the files) and throws one message naming the first bad one.</summary>
    /// <exception cref="LstmException">A value is out of range or a required one is missing.</exception>
    public void Validate()
    {
        switch (Source)
        {
            case "task":
                if (Task is null || !SyntheticTasks.Names.Split(", ").Contains(Task))
                    throw new LstmException($"--task {Task}: unknown task (tasks: {SyntheticTasks.Names})");
                Positive("--seq-len", SeqLen);
                Positive("--train-samples", TrainSamples);
                Positive("--val-samples", ValidationSamples);
                AtMost("--seq-len", SeqLen, MaxSteps);
                AtMost("--train-samples", TrainSamples, MaxSamples);
                AtMost("--val-samples", ValidationSamples, MaxSamples);
                if (Task == "adding" && SeqLen < 2)
                    throw new LstmException($"--seq-len {SeqLen}: the adding task needs at least 2 steps");
                break;
            case "csv":
                if (string.IsNullOrWhiteSpace(Path))
                    throw new LstmException("--csv: no file given");
                if (Targets.Count == 0 || Targets.Any(string.IsNullOrWhiteSpace))
                    throw new LstmException($"--target '{string.Join(",", Targets)}': name one or more columns of {Path}, separated by commas");
                if (Features.Any(string.IsNullOrWhiteSpace))
                    throw new LstmException($"--features '{string.Join(",", Features)}': an empty column name");
                Positive("--window", Window);
                Positive("--horizon", Horizon);
                AtMost("--window", Window, MaxSteps);
                AtMost("--horizon", Horizon, MaxSteps);
                CheckTransform();
                _ = MissingValuesOf(Missing);
                Fraction();
                TestFractionCheck();
                if (Season != 0 && Season < 2)
                    throw new LstmException($"--season {Season}: must be ≥ 2 (rows per season), or left out to detect it");
                AtMost("--season", Season, MaxSteps);
                break;
            case "text":
                if (string.IsNullOrWhiteSpace(Path))
                    throw new LstmException("--text: no file given");
                Positive("--window", Window);
                AtMost("--window", Window, MaxSteps);
                Fraction();
                break;
            default:
                throw new LstmException($"data source '{Source}': expected one of {Sources}");
        }
    }

    /// <summary>Reads or generates the data and splits it; nothing is written.</summary>
    /// <exception cref="LstmException">A value, a file or its content is bad; the message names the file, line, column and value.</exception>
    public PreparedData Prepare()
    {
        Validate();
        return Source switch
        {
            "task" => PrepareTask(),
            "csv" => PrepareCsv(),
            _ => PrepareText(),
        };
    }

    /// <summary>
    /// The evaluation set of a trained run on other data: this spec's source read whole, with the
    /// training run's normalization or vocabulary (<paramref name="trained"/>); a synthetic task
    /// draws <see cref="ValidationSamples"/> samples from <see cref="Seed"/>.
    /// </summary>
    /// <param name="trained">What the run was trained on (its statistics and vocabulary).</param>
    public ISequenceDataset PrepareEvaluation(PreparedData trained)
    {
        ArgumentNullException.ThrowIfNull(trained);
        Validate();
        switch (Source)
        {
            case "task":
                return SyntheticTasks.Create(Task!, SeqLen, ValidationSamples, Seed);
            case "csv":
            {
                var (features, targets) = ReadColumns();
                try
                {
                    return ForecastDataset.Windows(features, targets, Window, Horizon, Transform, trained.FeatureStats, trained.TargetStats);
                }
                catch (LstmException e)
                {
                    throw new LstmException($"{Path}: {e.Message}", e);
                }
            }

            default:
            {
                var vocabulary = trained.Vocabulary ?? throw new LstmException("the run was not trained on text: it has no vocabulary");
                string text = ReadText();
                int[] ids;
                try
                {
                    ids = vocabulary.Encode(text);
                }
                catch (LstmException e)
                {
                    throw new LstmException($"{Path}: {e.Message}", e);
                }

                if (ids.Length < Window + 1)
                    throw new LstmException($"{Path}: {ids.Length} characters are too few for a window of {Window} (and the next character)");
                return new CharTextDataset(ids, Window);
            }
        }
    }

    /// <summary>The reading of <see cref="Missing"/>.</summary>
    /// <param name="value">error, drop, fill-previous or fill-zero.</param>
    public static MissingValues MissingValuesOf(string value) => value switch
    {
        "error" => MissingValues.Error,
        "drop" => MissingValues.DropRow,
        "fill-previous" => MissingValues.FillPrevious,
        "fill-zero" => MissingValues.FillZero,
        _ => throw new LstmException($"--missing {value}: expected error, drop, fill-previous or fill-zero"),
    };

    /// <summary>Reads the feature and target columns of the CSV (the same columns once when they coincide).</summary>
    public (TimeSeries Features, TimeSeries Targets) ReadColumns()
    {
        RequireFile("--csv");
        var featureColumns = FeatureColumns;
        var all = featureColumns.Concat(Targets.Where(t => !featureColumns.Contains(t))).ToArray();
        var table = TimeSeries.ReadCsv(Path!, all, MissingValuesOf(Missing));
        return (Columns(table, featureColumns), Columns(table, Targets));
    }

    private static TimeSeries Columns(TimeSeries table, IReadOnlyList<string> names)
    {
        var index = names.Select(n => table.Columns.ToList().IndexOf(n)).ToArray();
        int c = table.Columns.Count;
        var values = new double[table.Rows * names.Count];
        for (int r = 0; r < table.Rows; r++)
        {
            for (int k = 0; k < index.Length; k++)
                values[r * index.Length + k] = table.Values[r * c + index[k]];
        }

        return new TimeSeries(names.ToArray(), values, table.Rows);
    }

    private PreparedData PrepareTask()
    {
        var train = SyntheticTasks.Create(Task!, SeqLen, TrainSamples, Seed);
        var validation = SyntheticTasks.Create(Task!, SeqLen, ValidationSamples, Seeds.Mix(Seed, 0x5EED));
        bool tokens = Task == "copy";
        string what = Task switch
        {
            "sine" => $"next value of noisy sine waves from windows of {SeqLen}",
            "adding" => $"the adding problem over {SeqLen} steps",
            "copy" => $"the copy task: recall 10 symbols after a delay of {SeqLen}",
            _ => $"next value of the Mackey-Glass series from windows of {SeqLen}",
        };
        return new PreparedData(this, train, validation, tokens ? CopyTask.Classes : 0, null, null, null,
            $"{what}: {TrainSamples} training and {ValidationSamples} validation samples");
    }

    private PreparedData PrepareCsv()
    {
        var (features, targets) = ReadColumns();
        int rows = features.Rows;
        long firstTarget = LastRowOfFirstSample;
        if (!CsvSplitFits(rows, firstTarget, ValFraction, TestFraction))
        {
            string fractions = $"a validation fraction of {Fmt(ValFraction)}" + (TestFraction > 0 ? $" and a test fraction of {Fmt(TestFraction)}" : "");
            string differenced = Difference > 0 ? $" differenced {Difference} time{(Difference == 1 ? "" : "s")}" : "";
            throw new LstmException(CsvRowsNeeded(firstTarget, ValFraction, TestFraction) is { } need
                ? $"{Path}: {rows} data rows are too few for a window of {Window} and a horizon of {Horizon}{differenced} with {fractions} (at least {need} rows are needed)"
                : TestFraction > 0
                    ? $"--val-fraction {Fmt(ValFraction)} with --test-fraction {Fmt(TestFraction)}: leaves no training, validation or test window at any number of rows; use fractions such as 0.2 and 0.1"
                    : $"--val-fraction {Fmt(ValFraction)}: leaves no training or no validation window at any number of rows (1 − f rounds to {Fmt(1 - ValFraction)}); use a fraction such as 0.2");
        }

        var (trainRows, testStart) = CsvRows(rows, ValFraction, TestFraction);
        int split = (int)trainRows, test = (int)testStart;
        if (Season > split)
            throw new LstmException($"--season {Season}: longer than the {split} training rows of {Path} (the seasonal naive forecast looks one season back)");
        CheckMagnitudes(features, targets);

        var forecastRows = ForecastRowsOf(targets, split, test);
        ForecastDataset train, validation, testSet;
        ZScoreStatistics? fs, ts;
        try
        {
            (train, validation, testSet, fs, ts) = ForecastDataset.SplitRows(features, targets, Window, Horizon, split, test, Transform);
        }
        catch (LstmException e)
        {
            throw new LstmException($"{Path}: {e.Message}", e);
        }

        return new PreparedData(this, train, validation, 0, fs, ts, null, CsvSummary(rows, train.Count, validation.Count, testSet.Count))
        {
            Test = testSet,
            Forecast = forecastRows,
            Warnings = FewWindowWarnings(validation.Count, testSet.Count),
        };
    }

    private string CsvSummary(int rows, int train, int validation, int test) =>
        $"{Path}: {rows} rows; predict {string.Join(", ", Targets)} on {(Horizon == 1 ? "the row" : $"each of the {Horizon} rows")} after windows of {Window} of {string.Join(", ", FeatureColumns)}"
        + $" ({TransformSummary}): "
        + (test > 0 ? $"{train} training, {validation} validation and {test} test windows" : $"{train} training and {validation} validation windows");

    private PreparedData PrepareText()
    {
        string text = ReadText();
        var vocabulary = CharVocabulary.FromText(text);
        var ids = vocabulary.Encode(text);
        if (!TextSplitFits(ids.Length, Window, ValFraction))
        {
            throw new LstmException(TextLengthNeeded(Window, ValFraction) is { } need
                ? $"{Path}: {ids.Length} characters are too few for windows of {Window} with a validation fraction of {Fmt(ValFraction)} (at least {need} are needed)"
                : $"--val-fraction {Fmt(ValFraction)}: leaves no training or no validation window at any length of text; use a fraction such as 0.1");
        }

        int validationLength = (int)Math.Floor(ids.Length * ValFraction);
        int trainLength = ids.Length - validationLength;

        var train = new CharTextDataset(ids[..trainLength], Window, stride: 1);
        var validation = new CharTextDataset(ids[trainLength..], Window);
        return new PreparedData(this, train, validation, vocabulary.Size, null, null, vocabulary,
            $"{Path}: {ids.Length} characters, {vocabulary.Size} distinct; next character after each of {Window}: {train.Count} training and {validation.Count} validation windows");
    }

    private string ReadText()
    {
        RequireFile("--text");
        string text;
        try
        {
            text = File.ReadAllText(Path!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{Path}: cannot read: {e.Message}", e);
        }

        if (text.Length == 0)
            throw new LstmException($"{Path}: the file is empty");
        return text;
    }

    private void RequireFile(string option)
    {
        if (Directory.Exists(Path))
            throw new LstmException($"{option} {Path}: is a directory, not a file");
        if (!File.Exists(Path))
            throw new LstmException($"{option} {Path}: no such file");
    }

    private void TestFractionCheck()
    {
        if (!(TestFraction >= 0 && TestFraction < 1))
            throw new LstmException($"--test-fraction {Fmt(TestFraction)}: must lie in [0, 1) (0: no test rows)");
        if (!(ValFraction + TestFraction < 1))
            throw new LstmException($"--test-fraction {Fmt(TestFraction)} with --val-fraction {Fmt(ValFraction)}: together they leave no training rows (their sum must be below 1)");
    }

    private void Fraction()
    {
        if (!(ValFraction > 0 && ValFraction < 1))
            throw new LstmException($"--val-fraction {Fmt(ValFraction)}: must lie strictly between 0 and 1");
    }

    /// <summary>The most steps of a sample (<c>--seq-len</c>, <c>--window</c>) and rows of a horizon: 2²⁰.</summary>
    public const int MaxSteps = 1 << 20;

    /// <summary>The most samples of a synthetic task (<c>--train-samples</c>, <c>--val-samples</c>): 2²⁴.</summary>
    public const int MaxSamples = 1 << 24;

    private static void AtMost(string option, int value, int max)
    {
        if (value > max)
            throw new LstmException($"{option} {value}: must be ≤ {max}");
    }

    private static void Positive(string option, int value)
    {
        if (value < 1)
            throw new LstmException($"{option} {value}: must be ≥ 1");
    }

    private static string Fmt(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}

/// <summary>
/// A run's data ready to train on: training and validation sets and what must be saved with the
/// model to use it later (z-score statistics, a vocabulary).
/// </summary>
/// <param name="Spec">Where it came from.</param>
/// <param name="Train">Training samples.</param>
/// <param name="Validation">Validation samples.</param>
/// <param name="Classes">V for token data (inputs and targets are class ids); 0 for real values.</param>
/// <param name="FeatureStats">Statistics of the F input columns (z-scored CSV), else null.</param>
/// <param name="TargetStats">Statistics of the O target columns (z-scored CSV), else null.</param>
/// <param name="Vocabulary">The characters of a text, else null.</param>
/// <param name="Summary">One line saying what the samples are.</param>
public sealed record PreparedData(
    DataSpec Spec, ISequenceDataset Train, ISequenceDataset Validation, int Classes,
    ZScoreStatistics? FeatureStats, ZScoreStatistics? TargetStats, CharVocabulary? Vocabulary, string Summary)
{
    /// <summary>Whether inputs and targets are class ids (a language model, the copy task).</summary>
    public bool Tokens => Classes > 0;

    /// <summary>Test samples (the last rows of a CSV with a test fraction), never trained on nor used to choose a checkpoint; empty when none.</summary>
    public ISequenceDataset Test { get; init; } = new DatasetSlice(EmptyDataset.Instance, 0, 0);

    /// <summary>A CSV forecast's rows in original units and where its split falls (for baselines and per-row output), else null.</summary>
    public ForecastRows? Forecast { get; init; }

    /// <summary>Sentences about the data worth a warning (too few validation or test windows to trust their scores).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>Samples [first, first + count) of another dataset.</summary>
internal sealed class DatasetSlice(ISequenceDataset inner, int first, int count) : ISequenceDataset
{
    public static DatasetSlice Of(ISequenceDataset inner, int first, int count)
    {
        if (first < 0 || count < 0 || first + count > inner.Count)
            throw new LstmException($"samples [{first}, {first + count}) lie outside a dataset of {inner.Count}");
        return new DatasetSlice(inner, first, count);
    }

    public int Count => count;

    public int Steps => inner.Steps;

    public int InputSize => inner.InputSize;

    public int TargetLength => inner.TargetLength;

    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, count);
        inner.Fill(first + index, x, y);
    }
}

/// <summary>No samples.</summary>
internal sealed class EmptyDataset : ISequenceDataset
{
    public static readonly EmptyDataset Instance = new();

    public int Count => 0;

    public int Steps => 1;

    public int InputSize => 1;

    public int TargetLength => 1;

    public void Fill(int index, Span<double> x, Span<double> y) => Seeds.CheckIndex(index, 0);
}
