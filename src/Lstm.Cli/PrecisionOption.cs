using Lstm.Runtime;
using Lstm.Runtime.Devices;

namespace Lstm.Cli;

/// <summary>The <c>--precision</c> option of the verbs that open devices.</summary>
internal static class PrecisionOption
{
    /// <summary>The precision named by <c>--precision</c> (null: fp32).</summary>
    /// <exception cref="LstmException">Not a precision's name; the message names the option and its value.</exception>
    public static GemmPrecision Parse(string? value)
    {
        if (value is null)
            return GemmPrecision.Fp32;
        try
        {
            return PrecisionNames.Parse(value);
        }
        catch (LstmException)
        {
            throw new LstmException($"--precision {value}: expected {PrecisionNames.Help}");
        }
    }
}
