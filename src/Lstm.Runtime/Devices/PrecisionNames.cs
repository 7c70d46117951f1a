using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Devices;

/// <summary>The names of the GEMM precisions, as the command line and a run's config.json write them.</summary>
public static class PrecisionNames
{
    private static readonly (GemmPrecision Precision, string Name)[] Names =
    [
        (GemmPrecision.Fp32, "fp32"),
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
}
