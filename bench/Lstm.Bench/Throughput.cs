using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using System.Globalization;

namespace Lstm.Bench;

/// <summary>A benchmark parameter that knows how much work one invocation of a benchmark method does.</summary>
public interface IWorkload
{
    /// <summary>Floating-point operations of one invocation of <paramref name="method"/>, or 0 when not counted.</summary>
    /// <param name="method">The benchmark method's name.</param>
    double Flops(string method);

    /// <summary>Bytes one invocation of <paramref name="method"/> reads and writes in device memory, or 0 when not counted.</summary>
    /// <param name="method">The benchmark method's name.</param>
    double Bytes(string method);
}

/// <summary>
/// GFLOP/s or GB/s of a benchmark case: the work of its <see cref="IWorkload"/> parameter divided
/// by the median time (10^9 per second = 1 per nanosecond).
/// </summary>
public sealed class ThroughputColumn(bool bytes) : IColumn
{
    /// <summary>The GFLOP/s column.</summary>
    public static readonly ThroughputColumn GFlops = new(bytes: false);

    /// <summary>The GB/s column.</summary>
    public static readonly ThroughputColumn GBytes = new(bytes: true);

    /// <inheritdoc/>
    public string Id => bytes ? "Lstm.GBps" : "Lstm.GFlops";

    /// <inheritdoc/>
    public string ColumnName => bytes ? "GB/s" : "GFLOP/s";

    /// <inheritdoc/>
    public bool AlwaysShow => true;

    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc/>
    public int PriorityInCategory => bytes ? 1 : 0;

    /// <inheritdoc/>
    public bool IsNumeric => true;

    /// <inheritdoc/>
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc/>
    public string Legend => bytes
        ? "Device-memory bytes read and written per invocation / median time, in 10^9 per second"
        : "Floating-point operations per invocation (LSTM: torch_lstm_bench.py's count) / median time, in 10^9 per second";

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(benchmarkCase);
        var stats = summary[benchmarkCase]?.ResultStatistics;
        var work = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<IWorkload>().FirstOrDefault();
        if (stats is null || work is null || stats.Median <= 0)
            return "-";
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        double amount = bytes ? work.Bytes(method) : work.Flops(method);
        return amount > 0 ? (amount / stats.Median).ToString("F1", CultureInfo.InvariantCulture) : "-";
    }

    /// <inheritdoc/>
    public bool IsAvailable(Summary summary) => true;

    /// <inheritdoc/>
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc/>
    public override string ToString() => ColumnName;
}

/// <summary>Adds the GFLOP/s and GB/s columns to a benchmark class (<c>[Config(typeof(ThroughputConfig))]</c>).</summary>
public sealed class ThroughputConfig : ManualConfig
{
    /// <summary>The two columns.</summary>
    public ThroughputConfig() => AddColumn(ThroughputColumn.GFlops, ThroughputColumn.GBytes);
}
