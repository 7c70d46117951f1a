using ILGPU;

namespace Lstm.Kernels.Gemm;

/// <summary>The two TF32 parts of a float32: <c>x ≈ Hi + Lo</c>.</summary>
/// <param name="Hi">TF32(x).</param>
/// <param name="Lo">TF32(x - Hi).</param>
internal readonly record struct Tf32Split(float Hi, float Lo);

/// <summary>
/// Rounding of float32 values to the reduced formats the tensor cores multiply (TF32, BF16), as
/// pure bit manipulation: the same functions run inside ILGPU kernels (every back end) and on the
/// host, so a kernel and its host reference round identically.
/// </summary>
/// <remarks>
/// <para>Values stay float32: a TF32 value is a float32 whose low 13 mantissa bits are zero, a
/// BF16 value one whose low 16 bits are zero (<see cref="ToBf16Bits"/> gives its 16-bit storage).
/// Products of two TF32 (11 significant bits) or two BF16 (8 bits) values are exact in float32,
/// so a reduced-precision GEMM's only float32 roundings are those of its sums.</para>
/// <para>Subnormal inputs are rounded like normal ones (no flush to zero), ±0 and ±∞ are kept,
/// a NaN stays a NaN (made quiet). A finite value that rounds past float32's largest
/// magnitude becomes ±∞, as in hardware.</para>
/// </remarks>
internal static class ReducedPrecision
{
    private const uint ExponentMask = 0x7F80_0000u;
    private const uint MantissaMask = 0x007F_FFFFu;
    private const uint QuietBit = 0x0040_0000u;

    /// <summary>Bits of the float32 mantissa that TF32 drops.</summary>
    public const int Tf32DroppedBits = 13;

    /// <summary>Bits of the float32 mantissa that BF16 drops.</summary>
    public const int Bf16DroppedBits = 16;

    /// <summary>True for ±∞ and NaN.</summary>
    private static bool IsNonFinite(uint bits) => (bits & ExponentMask) == ExponentMask;

    /// <summary>
    /// x rounded to TF32 as PTX's <c>cvt.rna.tf32.f32</c> does: to nearest, ties away from zero,
    /// 10 stored mantissa bits kept and the low 13 bits zero.
    /// </summary>
    /// <remarks>
    /// Adding half a TF32 unit (0x1000) to the magnitude bits carries into the kept bits exactly
    /// when the dropped part is at least half a unit: rounding away from zero on ties, into the
    /// exponent (or to ∞) when the mantissa overflows.
    /// </remarks>
    /// <param name="x">The value.</param>
    public static float ToTf32(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        const uint dropped = (1u << Tf32DroppedBits) - 1;
        if (IsNonFinite(bits))
            return Interop.IntAsFloat((bits & MantissaMask) != 0 ? (bits | QuietBit) & ~dropped : bits);
        return Interop.IntAsFloat((bits + (1u << (Tf32DroppedBits - 1))) & ~dropped);
    }

    /// <summary>
    /// The 3xTF32 split of x: Hi = <see cref="ToTf32"/>(x), Lo = <see cref="ToTf32"/>(x - Hi).
    /// </summary>
    /// <remarks>
    /// x - Hi is exact in float32, and Hi + Lo equals x to about 2^-22 relative. For a non-finite
    /// Hi (x infinite, NaN or within half a TF32 unit of float32's largest magnitude) Lo is not
    /// finite either, so a 3xTF32 product with such an operand is ±∞ or NaN.
    /// </remarks>
    /// <param name="x">The value.</param>
    public static Tf32Split SplitTf32(float x)
    {
        float hi = ToTf32(x);
        return new Tf32Split(hi, ToTf32(x - hi));
    }

    /// <summary>
    /// The BF16 storage of x: the high 16 bits of x rounded to nearest, ties to even; a NaN is
    /// kept quiet (its sign and high payload bits kept).
    /// </summary>
    /// <param name="x">The value.</param>
    public static ushort ToBf16Bits(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if (IsNonFinite(bits))
            return (ushort)(((bits & MantissaMask) != 0 ? bits | QuietBit : bits) >> Bf16DroppedBits);
        uint lsb = (bits >> Bf16DroppedBits) & 1u;
        return (ushort)((bits + 0x7FFFu + lsb) >> Bf16DroppedBits);
    }

    /// <summary>The float32 value of BF16 storage (exact: the bits widened with 16 zero bits).</summary>
    /// <param name="bits">BF16 storage.</param>
    public static float FromBf16Bits(ushort bits) => Interop.IntAsFloat((uint)bits << Bf16DroppedBits);

    /// <summary>x rounded to BF16 (to nearest, ties to even), as a float32.</summary>
    /// <param name="x">The value.</param>
    public static float ToBf16(float x) => FromBf16Bits(ToBf16Bits(x));

    /// <summary>
    /// One step of a reduced-precision dot product: <paramref name="acc"/> plus a·b formed at
    /// <paramref name="precision"/>, every sum rounded to float32.
    /// </summary>
    /// <remarks>
    /// FP32: acc + a·b. TF32: acc + TF32(a)·TF32(b). BF16: acc + BF16(a)·BF16(b). 3xTF32: with
    /// a = hi_a + lo_a and b = hi_b + lo_b, ((acc + lo_a·hi_b) + hi_a·lo_b) + hi_a·hi_b, small terms
    /// first. Reduced-precision products are exact in float32, so every back end (and a fused
    /// multiply-add) gives the same bits; an FP32 product is rounded, and a back end that fuses it
    /// into the sum may differ in the last bit.
    /// </remarks>
    /// <param name="precision">A <see cref="GemmRounding"/> as an int.</param>
    /// <param name="a">The element of op(A).</param>
    /// <param name="b">The element of op(B).</param>
    /// <param name="acc">The sum so far.</param>
    public static float MulAdd(int precision, float a, float b, float acc)
    {
        if (precision == (int)GemmRounding.Tf32)
            return acc + ToTf32(a) * ToTf32(b);
        if (precision == (int)GemmRounding.ThreeTf32)
        {
            var sa = SplitTf32(a);
            var sb = SplitTf32(b);
            acc += sa.Lo * sb.Hi;
            acc += sa.Hi * sb.Lo;
            return acc + sa.Hi * sb.Hi;
        }

        if (precision == (int)GemmRounding.Bf16)
            return acc + ToBf16(a) * ToBf16(b);
        return acc + a * b;
    }
}

/// <summary>
/// The rounding of the operands inside a float32 product, as the kernels take it (the runtime's
/// <c>GemmPrecision</c> has the same values).
/// </summary>
internal enum GemmRounding
{
    /// <summary>IEEE float32 products and sums.</summary>
    Fp32 = 0,

    /// <summary>Both operands rounded to TF32.</summary>
    Tf32 = 1,

    /// <summary>Each operand split into two TF32 parts; three of the four partial products summed.</summary>
    ThreeTf32 = 2,

    /// <summary>Both operands rounded to BF16.</summary>
    Bf16 = 3,
}
