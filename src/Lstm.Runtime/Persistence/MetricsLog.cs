using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>One training step as a run folder's <c>metrics.jsonl</c> records it (one JSON object per line).</summary>
/// <param name="Step">Steps done (1 for the first).</param>
/// <param name="Epoch">The epoch (0-based) of the training set this step's batch came from.</param>
/// <param name="TrainLoss">The step's training loss.</param>
/// <param name="ValLoss">Validation loss, on the steps where it was computed; else null (and absent from the line).</param>
/// <param name="Lr">The learning rate the step used.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="ElapsedS">Seconds since training began (a resumed run goes on from the checkpoint's time).</param>
public sealed record StepMetrics(long Step, long Epoch, double TrainLoss, double? ValLoss, double Lr, double GradNorm, double ElapsedS);

/// <summary>
/// A run's <c>metrics.jsonl</c>: the records so far, kept in memory and written whole
/// (atomically) at most every <see cref="FlushInterval"/>, at <see cref="Flush"/> and when a
/// resumed run cuts it back to its checkpoint. A run flushes it before it writes each checkpoint,
/// so the file always holds every step up to the last checkpoint's.
/// </summary>
public sealed class MetricsLog
{
    private readonly List<StepMetrics> _records = [];
    private readonly Stopwatch _sinceFlush = Stopwatch.StartNew();
    private bool _dirty;

    /// <summary>An empty log that will write <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    public MetricsLog(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = path;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The longest time a record waits in memory before the file is rewritten.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The records in step order.</summary>
    public IReadOnlyList<StepMetrics> Records => _records;

    /// <summary>
    /// What <see cref="Resume"/> changed or found amiss: records dropped after the checkpoint's
    /// step, steps missing before it; empty when the log matched the checkpoint.
    /// </summary>
    public IReadOnlyList<string> ResumeNotes { get; private init; } = [];

    /// <summary>
    /// Reads an existing log and cuts it back to <paramref name="step"/> (the step of the
    /// checkpoint a run resumes from), rewriting the file at once: the records of later steps,
    /// which the resumed run trains again, are dropped, so that every step is recorded once.
    /// </summary>
    /// <param name="path">The file (absent: an empty log).</param>
    /// <param name="step">The last step to keep.</param>
    public static MetricsLog Resume(string path, long step)
    {
        var notes = new List<string>();
        var kept = new List<StepMetrics>();
        if (File.Exists(path))
        {
            var all = Read(path);
            kept.AddRange(all.Where(r => r.Step <= step).GroupBy(r => r.Step).Select(g => g.Last()).OrderBy(r => r.Step));
            var dropped = all.Where(r => r.Step > step).ToList();
            if (dropped.Count > 0)
                notes.Add($"{System.IO.Path.GetFileName(path)}: dropped the {dropped.Count} record{(dropped.Count == 1 ? "" : "s")} of steps {dropped.Min(r => r.Step)}-{dropped.Max(r => r.Step)}, after the checkpoint's step {step}; they are trained again");
            if (all.Count(r => r.Step <= step) > kept.Count)
                notes.Add($"{System.IO.Path.GetFileName(path)}: kept one record of each step recorded twice");
        }

        long missing = step - kept.Count;
        if (missing > 0)
        {
            var have = kept.Select(r => r.Step).ToHashSet();
            long first = Enumerable.Range(1, (int)Math.Min(step, int.MaxValue)).First(s => !have.Contains(s));
            notes.Add($"{System.IO.Path.GetFileName(path)}: {missing} of the steps up to the checkpoint's step {step} have no record (the first is step {first}); the log was cut or edited outside this run");
        }

        var log = new MetricsLog(path) { ResumeNotes = notes };
        log._records.AddRange(kept);
        log._dirty = true;
        log.Flush();
        return log;
    }

    /// <summary>Every record of a log file.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">A line is not a metrics record; the message names the file and line.</exception>
    public static IReadOnlyList<StepMetrics> Read(string path)
    {
        var records = new List<StepMetrics>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Length == 0)
                continue;
            try
            {
                records.Add(JsonSerializer.Deserialize(text, RunsJson.Default.StepMetrics) ?? throw new JsonException("null"));
            }
            catch (JsonException e)
            {
                throw new LstmException($"{path}: line {line}: not a metrics record: {e.Message}", e);
            }
        }

        return records;
    }

    /// <summary>Adds a record (steps must increase) and rewrites the file if the last write is older than <see cref="FlushInterval"/>.</summary>
    /// <param name="record">The step's metrics.</param>
    public void Add(StepMetrics record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (_records.Count > 0 && record.Step <= _records[^1].Step)
            throw new LstmException($"{Path}: step {record.Step} does not follow step {_records[^1].Step}");
        _records.Add(record);
        _dirty = true;
        if (_sinceFlush.Elapsed >= FlushInterval)
            Flush();
    }

    /// <summary>Writes the file now (atomically) if anything changed since the last write.</summary>
    public void Flush()
    {
        if (!_dirty)
            return;
        var text = new StringBuilder();
        foreach (var r in _records)
            text.Append(JsonSerializer.Serialize(r, RunsJson.Default.StepMetrics)).Append('\n');
        AtomicFile.WriteAllText(Path, text.ToString());
        _dirty = false;
        _sinceFlush.Restart();
    }
}

/// <summary>Source-generated JSON of the run files (snake_case; NaN and ∞ losses written as strings rather than failing).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(StepMetrics))]
[JsonSerializable(typeof(DataSpec))]
internal sealed partial class RunsJson : JsonSerializerContext
{
}
