using System.Globalization;
using Lstm.Runtime.Data;

namespace Lstm.Cli;

/// <summary>
/// The help texts of the data options that state a numeric default, taken from
/// <see cref="DataDefaults"/> (an attribute's text cannot interpolate a number; the options name
/// these properties with <c>ResourceType</c>).
/// </summary>
public static class DataHelp
{
    /// <summary><c>--seq-len</c>.</summary>
    public static string SeqLen => Text($"Synthetic task: the window (sine, mackey-glass), length (adding) or delay (copy). Default {DataDefaults.SeqLen}.");

    /// <summary><c>--train-samples</c>.</summary>
    public static string TrainSamples => Text($"Synthetic task: training samples. Default {DataDefaults.TrainSamples}.");

    /// <summary><c>--val-samples</c>.</summary>
    public static string ValidationSamples => Text($"Synthetic task: validation (or evaluation) samples. Default {DataDefaults.ValidationSamples}.");

    /// <summary><c>--window</c>.</summary>
    public static string Window => Text($"CSV and text: steps per input window. Default {DataDefaults.Window} (CSV), {DataDefaults.TextWindow} (text).");

    /// <summary><c>--horizon</c>.</summary>
    public static string Horizon => Text($"CSV: forecast the H rows after a window's last, one output each (the loss covers all H). Default {DataDefaults.Horizon}.");

    /// <summary><c>--val-fraction</c>.</summary>
    public static string ValFraction => Text($"CSV and text: the trailing fraction of rows or characters that validates. Default {DataDefaults.ValFraction}.");

    /// <summary><c>--test-fraction</c>.</summary>
    public static string TestFraction => Text($"CSV: the trailing fraction of rows kept for the test, never trained on nor used to choose a checkpoint (0: none). Default {DataDefaults.TestFraction}.");

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
