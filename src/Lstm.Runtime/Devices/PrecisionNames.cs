using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Devices;

/// <summary>The names of the GEMM precisions, as the command line and a run's config.json write them.</summary>
public static class PrecisionNames
{
    /// <summary>The name of the default precision, exact float32 products.</summary>
    public const string Default = "fp32";

    private static readonly (GemmPrecision Precision, string Name)[] Names =
    [
        (GemmPrecision.Fp32, Default),
        (GemmPrecision.Tf32, "tf32"),
        (GemmPrecision.ThreeTf32, "3xtf32"),
        (GemmPrecision.Bf16, "bf16"),
    ];

    /// <summary><c>fp32, tf32, 3xtf32 or bf16</c>.</summary>
    public static string Help { get; } = string.Join(", ", Names[..^1].Select(n => n.Name)) + " or " + Names[^1].Name;

    /// <summary>The name of a precision: fp32, tf32, 3xtf32 or bf16.</summary>
    /// <param name="precision">The precision.</param>
    public static string Name(GemmPrecision precision) => Names.First(n => n.Precision == precision).Name;

    /// <summary>Reads a precision's name (any case, surrounding spaces ignored).</summary>
    /// <param name="name">fp32, tf32, 3xtf32 or bf16.</param>
    /// <exception cref="LstmException">Not one of those.</exception>
    public static GemmPrecision Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string wanted = name.Trim().ToLowerInvariant();
        foreach (var (precision, known) in Names)
        {
            if (known == wanted)
                return precision;
        }

        throw new LstmException($"precision '{name}': expected {Help}");
    }

    /// <summary>The precision named by a <c>--precision</c> option (null: fp32).</summary>
    /// <param name="value">The option's value, or null.</param>
    /// <exception cref="LstmException">Not a precision's name; the message names the option and its value.</exception>
    public static GemmPrecision ParseOption(string? value)
    {
        if (value is null)
            return GemmPrecision.Fp32;
        try
        {
            return Parse(value);
        }
        catch (LstmException)
        {
            throw new LstmException($"--precision {value}: expected {Help}");
        }
    }
}
