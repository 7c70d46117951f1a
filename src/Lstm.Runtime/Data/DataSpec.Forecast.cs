using System.Text.Json.Serialization;

namespace Lstm.Runtime.Data;

/// <content>
/// How a CSV series is transformed before the model sees it (<see cref="ForecastTransform"/>):
/// <c>--difference</c>, <c>--target-mode</c> and <c>--normalize</c>, stored in the run's
/// <c>config.json</c> so that training, evaluation and prediction apply the same transform.
/// </content>
public sealed partial record DataSpec
{
    /// <summary>D: model the D-th difference of the columns (0..2) and integrate the forecasts back (CSV).</summary>
    public int Difference { get; init; }

    /// <summary><c>level</c> (the targets' values) or <c>change</c> (their change from the window's last value) (CSV).</summary>
    public string TargetMode { get; init; } = DataDefaults.TargetMode;

    /// <summary>
    /// The CSV or text file relative to the run folder (set with <see cref="ForRunFolder"/>), so that
    /// a run folder moved together with its data still finds it; <see cref="Path"/> is absolute.
    /// </summary>
    public string? PathFromRun { get; init; }

    /// <summary>This spec with <see cref="Path"/> absolute and <see cref="PathFromRun"/> relative to <paramref name="runFolder"/> (a task: unchanged).</summary>
    /// <param name="runFolder">The run folder.</param>
    public DataSpec ForRunFolder(string runFolder)
    {
        ArgumentNullException.ThrowIfNull(runFolder);
        if (Source == "task" || Path is null)
            return this;
        string full = System.IO.Path.GetFullPath(Path);
        return this with { Path = full, PathFromRun = System.IO.Path.GetRelativePath(System.IO.Path.GetFullPath(runFolder), full) };
    }

    /// <summary>
    /// This spec with <see cref="Path"/> the file that exists: <see cref="Path"/> itself, else
    /// <see cref="PathFromRun"/> from <paramref name="runFolder"/>; when neither exists, unchanged
    /// (reading it names the absolute path).
    /// </summary>
    /// <param name="runFolder">The run folder.</param>
    public DataSpec LocatedFrom(string runFolder)
    {
        ArgumentNullException.ThrowIfNull(runFolder);
        if (Source == "task" || Path is null || File.Exists(Path) || PathFromRun is null)
            return this;
        string relative = System.IO.Path.GetFullPath(System.IO.Path.Combine(runFolder, PathFromRun));
        return File.Exists(relative) ? this with { Path = relative } : this;
    }

    /// <summary>The transform these fields state (CSV).</summary>
    [JsonIgnore]
    public ForecastTransform Transform =>
        new(Difference, ForecastTransform.ChangeOf(TargetMode), ForecastTransform.ScalingOf(Normalize));

    /// <summary>Checks <c>--difference</c>, <c>--target-mode</c> and <c>--normalize</c>.</summary>
    private void CheckTransform()
    {
        ForecastTransform.CheckDifference(Difference);
        _ = ForecastTransform.ChangeOf(TargetMode);
        _ = ForecastTransform.ScalingOf(Normalize);
    }

    /// <summary>Rows of the CSV the first sample spans less one (the old "first target row"): W − 1 + H + D.</summary>
    private long LastRowOfFirstSample => ForecastDataset.RowsPerSample(Window, Horizon, Difference) - 1;

    private string TransformSummary =>
        (Normalize switch { "none" => "not normalized", "window" => "each window less its last value, scaled", _ => "z-scored" })
        + (Difference > 0 ? $", differenced {Difference}×" : "") + (TargetMode == "change" ? ", change targets" : "");
}
