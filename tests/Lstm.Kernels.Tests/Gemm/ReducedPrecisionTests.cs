using Lstm.Kernels.Gemm;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// TF32 and BF16 rounding against a reference computed in float64 arithmetic from the definition
/// (the grid of representable values around x, then the nearest point, ties away from zero for
/// TF32 and to even for BF16), on every mantissa of the smallest, subnormal, middle and largest
/// exponents of both signs, on random bit patterns and on special values.
/// </summary>
public sealed class ReducedPrecisionTests(ITestOutputHelper output)
{
    private const int Tf32Mantissa = 10;
    private const int Bf16Mantissa = 7;

    /// <summary>
    /// x rounded to a float format with float32's exponent range and <paramref name="mantissaBits"/>
    /// stored mantissa bits, in float64 arithmetic: the grid spacing at x is 2^(max(e, -126) - bits)
    /// (e = ⌊log2 |x|⌋; subnormals share the spacing of the smallest normal exponent); past the
    /// largest finite value of float32 the result is ±∞.
    /// </summary>
    private static float Reference(float x, int mantissaBits, bool tiesAway)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0)
            return x;
        double ax = Math.Abs((double)x);
        int e = Math.Max(Math.ILogB(ax), -126);
        double spacing = Math.ScaleB(1.0, e - mantissaBits);
        double q = ax / spacing; // exact: a power-of-two scaling
        double floor = Math.Floor(q);
        double frac = q - floor;
        double n = frac > 0.5 ? floor + 1
            : frac < 0.5 ? floor
            : tiesAway ? floor + 1
            : floor % 2 == 0 ? floor : floor + 1;
        double r = n * spacing;
        if (r >= Math.ScaleB(1.0, 128))
            r = double.PositiveInfinity;
        return (float)(x < 0 ? -r : r);
    }

    private static uint Bits(float x) => BitConverter.SingleToUInt32Bits(x);

    private static float FromBits(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    /// <summary>Every float32 with one of these biased exponents (0: zero and the subnormals), both signs.</summary>
    private static IEnumerable<uint> Sweep(params uint[] exponents)
    {
        foreach (uint sign in new[] { 0u, 0x8000_0000u })
        {
            foreach (uint e in exponents)
            {
                for (uint m = 0; m < (1u << 23); m++)
                    yield return sign | (e << 23) | m;
            }
        }
    }

    private static IEnumerable<uint> RandomBits(int seed, int count)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
            yield return (uint)rng.NextInt64(0, 1L << 32);
    }

    private static void CheckAgainstReference(IEnumerable<uint> inputs, Func<float, float> round, int mantissaBits, bool tiesAway, out long count)
    {
        count = 0;
        foreach (uint bits in inputs)
        {
            float x = FromBits(bits);
            float got = round(x);
            count++;
            if (float.IsNaN(x))
            {
                Assert.True(float.IsNaN(got), $"NaN 0x{bits:X8} gave 0x{Bits(got):X8}");
                continue;
            }

            float want = Reference(x, mantissaBits, tiesAway);
            if (Bits(got) != Bits(want))
                Assert.Fail($"0x{bits:X8} ({x:R}): got 0x{Bits(got):X8} ({got:R}), want 0x{Bits(want):X8} ({want:R})");
        }
    }

    [Fact]
    public void ToTf32_RoundsToNearestTiesAway_OnWholeExponentsAndRandomBits()
    {
        var inputs = Sweep(0, 1, 127, 254).Concat(RandomBits(1, 1 << 20));
        CheckAgainstReference(inputs, ReducedPrecision.ToTf32, Tf32Mantissa, tiesAway: true, out long count);
        output.WriteLine($"ToTf32: {count} inputs equal to the float64 reference");
    }

    [Fact]
    public void ToBf16_RoundsToNearestEven_OnWholeExponentsAndRandomBits()
    {
        var inputs = Sweep(0, 1, 127, 254).Concat(RandomBits(2, 1 << 20));
        CheckAgainstReference(inputs, ReducedPrecision.ToBf16, Bf16Mantissa, tiesAway: false, out long count);
        output.WriteLine($"ToBf16: {count} inputs equal to the float64 reference");
    }

    [Fact]
    public void Rounding_KeepsTheLowBitsZero_AndIsIdempotent()
    {
        foreach (uint bits in RandomBits(3, 1 << 18).Concat([0x7F80_0001u, 0xFFC0_0001u, 0x7F7F_FFFFu, 0x0000_0001u]))
        {
            float x = FromBits(bits);
            float t = ReducedPrecision.ToTf32(x);
            float b = ReducedPrecision.ToBf16(x);
            Assert.Equal(0u, Bits(t) & 0x1FFFu);
            Assert.Equal(0u, Bits(b) & 0xFFFFu);
            Assert.Equal(Bits(t), Bits(ReducedPrecision.ToTf32(t)));
            Assert.Equal(Bits(b), Bits(ReducedPrecision.ToBf16(b)));
        }
    }

    public static IEnumerable<object[]> Specials() =>
    [
        // x, TF32(x), BF16(x) as bits.
        [0x3F80_1000u, 0x3F80_2000u, 0x3F80_0000u], // 1 + 2^-11: a TF32 tie (away: up); far below BF16's half unit
        [0x3F80_3000u, 0x3F80_4000u, 0x3F80_0000u], // 1 + 3·2^-11: a TF32 tie from an odd mantissa (up)
        [0xBF80_1000u, 0xBF80_2000u, 0xBF80_0000u], // -(1 + 2^-11): away from zero is down
        [0x3F80_0FFFu, 0x3F80_0000u, 0x3F80_0000u], // just below a TF32 tie
        [0x3F80_8000u, 0x3F80_8000u, 0x3F80_0000u], // 1 + 2^-8: a BF16 tie to even (down)
        [0x3F81_8000u, 0x3F81_8000u, 0x3F82_0000u], // 1 + 3·2^-8: a BF16 tie to even (up)
        [0x3FFF_F000u, 0x4000_0000u, 0x4000_0000u], // rounding carries into the exponent
        [0x7F7F_FFFFu, 0x7F80_0000u, 0x7F80_0000u], // float32's largest: past the last TF32/BF16 value's half unit, so ∞
        [0x7F7F_E000u, 0x7F7F_E000u, 0x7F80_0000u], // TF32's largest; for BF16 past the half unit above BF16's largest (0x7F7F0000), so ∞
        [0x7F7F_EFFFu, 0x7F7F_E000u, 0x7F80_0000u], // below TF32's overflow tie
        [0x7F80_0000u, 0x7F80_0000u, 0x7F80_0000u], // +∞
        [0xFF80_0000u, 0xFF80_0000u, 0xFF80_0000u], // -∞
        [0x0000_0000u, 0x0000_0000u, 0x0000_0000u], // +0
        [0x8000_0000u, 0x8000_0000u, 0x8000_0000u], // -0
        [0x0000_0001u, 0x0000_0000u, 0x0000_0000u], // the smallest subnormal rounds to zero
        [0x0000_1000u, 0x0000_2000u, 0x0000_0000u], // a subnormal TF32 tie (away: up)
        [0x8000_1000u, 0x8000_2000u, 0x8000_0000u], // its negative
        [0x0000_8000u, 0x0000_8000u, 0x0000_0000u], // a subnormal BF16 tie to even (down)
        [0x0001_8000u, 0x0001_8000u, 0x0002_0000u], // a subnormal BF16 tie to even (up)
        [0x007F_FFFFu, 0x0080_0000u, 0x0080_0000u], // the largest subnormal rounds up to the smallest normal
    ];

    [Theory]
    [MemberData(nameof(Specials))]
    public void Rounding_OfTiesOverflowZerosAndSubnormals_IsAsSpecified(uint x, uint tf32, uint bf16)
    {
        Assert.Equal($"0x{tf32:X8}", $"0x{Bits(ReducedPrecision.ToTf32(FromBits(x))):X8}");
        Assert.Equal($"0x{bf16:X8}", $"0x{Bits(ReducedPrecision.ToBf16(FromBits(x))):X8}");
        Assert.Equal(tf32, Bits(Reference(FromBits(x), Tf32Mantissa, tiesAway: true)));
        Assert.Equal(bf16, Bits(Reference(FromBits(x), Bf16Mantissa, tiesAway: false)));
    }

    [Theory]
    [InlineData(0x7F80_0001u)] // a signalling NaN whose payload is only in the dropped bits
    [InlineData(0x7FC0_0000u)] // the canonical quiet NaN
    [InlineData(0xFF80_1FFFu)] // negative, payload in the dropped bits
    [InlineData(0x7FFF_FFFFu)]
    public void Rounding_OfNaN_GivesAQuietNaN_WithItsSign(uint nan)
    {
        float x = FromBits(nan);
        uint t = Bits(ReducedPrecision.ToTf32(x));
        uint b = ReducedPrecision.ToBf16Bits(x);
        Assert.True(float.IsNaN(FromBits(t)), $"TF32 of 0x{nan:X8}: 0x{t:X8}");
        Assert.True(float.IsNaN(ReducedPrecision.FromBf16Bits((ushort)b)), $"BF16 of 0x{nan:X8}: 0x{b:X4}");
        Assert.NotEqual(0u, t & 0x0040_0000u);
        Assert.NotEqual(0u, b & 0x0040u);
        Assert.Equal(nan >> 31, t >> 31);
        Assert.Equal(nan >> 31, b >> 15);
    }

    [Fact]
    public void Bf16Storage_WidensExactly_AndRoundTrips()
    {
        for (uint u = 0; u <= ushort.MaxValue; u++)
        {
            float wide = ReducedPrecision.FromBf16Bits((ushort)u);
            Assert.Equal(u << 16, Bits(wide));
            ushort back = ReducedPrecision.ToBf16Bits(wide);
            if (float.IsNaN(wide))
                Assert.True(float.IsNaN(ReducedPrecision.FromBf16Bits(back)));
            else
                Assert.Equal(u, back);
        }

        foreach (uint bits in RandomBits(4, 1 << 16))
            Assert.Equal(Bits(ReducedPrecision.ToBf16(FromBits(bits))), (uint)ReducedPrecision.ToBf16Bits(FromBits(bits)) << 16);
    }

    [Fact]
    public void SplitTf32_HiIsTf32_LoIsTf32OfTheExactRest_AndTheSumIsWithin2ToTheMinus22()
    {
        double worst = 0;
        foreach (uint bits in RandomBits(5, 1 << 20).Concat(Sweep(1).Where((_, i) => i % 61 == 0)))
        {
            float x = FromBits(bits);
            if (!float.IsFinite(x) || Math.Abs(x) >= 3.4e38f)
                continue;
            var s = ReducedPrecision.SplitTf32(x);
            Assert.Equal(Bits(ReducedPrecision.ToTf32(x)), Bits(s.Hi));
            // x - Hi is exact in float32 (Hi is x rounded at a coarser grid of the same binade or the next).
            Assert.Equal((double)x - s.Hi, (double)(x - s.Hi));
            Assert.Equal(Bits(ReducedPrecision.ToTf32(x - s.Hi)), Bits(s.Lo));
            Assert.Equal(0u, Bits(s.Lo) & 0x1FFFu);
            if (x != 0 && Math.Abs(x) >= 1e-30f)
            {
                double rel = Math.Abs((double)x - ((double)s.Hi + s.Lo)) / Math.Abs((double)x);
                worst = Math.Max(worst, rel);
            }
        }

        output.WriteLine($"SplitTf32: max |x - (hi + lo)| / |x| = {worst:E3} (2^-22 = {Math.ScaleB(1.0, -22):E3})");
        Assert.True(worst <= Math.ScaleB(1.0, -22), $"hi + lo is {worst:E3} from x");
    }

    [Fact]
    public void SplitTf32_OfNonFiniteOrOverflowingValues_IsNotFinite()
    {
        foreach (float x in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, -float.MaxValue })
        {
            var s = ReducedPrecision.SplitTf32(x);
            Assert.False(float.IsFinite(s.Hi), $"{x}: hi {s.Hi}");
            Assert.False(float.IsFinite(s.Lo), $"{x}: lo {s.Lo}");
        }
    }

    [Fact]
    public void MulAdd_RoundsTheOperands_AsItsPrecisionSays()
    {
        float a = FromBits(0x3F80_1001u), b = FromBits(0x4000_0FFFu), acc = 0.25f;
        Assert.Equal(acc + a * b, ReducedPrecision.MulAdd((int)GemmRounding.Fp32, a, b, acc));
        Assert.Equal(acc + ReducedPrecision.ToTf32(a) * ReducedPrecision.ToTf32(b), ReducedPrecision.MulAdd((int)GemmRounding.Tf32, a, b, acc));
        Assert.Equal(acc + ReducedPrecision.ToBf16(a) * ReducedPrecision.ToBf16(b), ReducedPrecision.MulAdd((int)GemmRounding.Bf16, a, b, acc));
        var sa = ReducedPrecision.SplitTf32(a);
        var sb = ReducedPrecision.SplitTf32(b);
        Assert.Equal(acc + sa.Lo * sb.Hi + sa.Hi * sb.Lo + sa.Hi * sb.Hi, ReducedPrecision.MulAdd((int)GemmRounding.ThreeTf32, a, b, acc));
        // 3xTF32 drops only lo·lo: within 2^-21 of the exact product here.
        double exact = (double)a * b;
        Assert.True(Math.Abs(ReducedPrecision.MulAdd((int)GemmRounding.ThreeTf32, a, b, 0f) - exact) <= Math.ScaleB(Math.Abs(exact), -21));
    }

    [Fact]
    public void GemmRounding_HasTheNamesAndValuesOfTheRuntimesGemmPrecision()
    {
        Assert.Equal(Enum.GetNames<Lstm.Runtime.GemmPrecision>(), Enum.GetNames<GemmRounding>());
        foreach (var precision in Enum.GetValues<Lstm.Runtime.GemmPrecision>())
            Assert.Equal(precision.ToString(), ((GemmRounding)(int)precision).ToString());
    }
}
