using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lstm.Kernels.Gemm;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>
/// The whole-loop LSTM at <see cref="GemmPrecision.Bf16"/> over wide panels (one or two rows,
/// AVX-512): W_hh is cached as BF16 panels, half the bytes a step streams, and widened to float32
/// in registers; op(A) of each step's product (h_{t-1} forward, dgates_t backward) is rounded to
/// BF16 once, by the core that wrote it, into one of two alternating copies. Each element is the
/// same chain of float32 sums as the per-step product of rounded copies (<see cref="ReducedGemm"/>:
/// products of two BF16 values are exact in float32, so the FMA of the chain rounds only the sum),
/// so the results are the per-step ones bit for bit.
/// </content>
internal sealed partial class CpuOps<T>
{
    /// <summary>The cache's layout code of <see cref="PackGatePanelsBf16"/>.</summary>
    private const int GatePanelsBf16Layout = 2;

    /// <summary>The cache's layout code of <see cref="PackWholeBBf16"/>.</summary>
    private const int WholeBBf16Layout = 3;

    /// <summary>
    /// Whether the whole loop over <paramref name="rows"/> rows runs at this device's precision:
    /// float32 products, or BF16 ones over wide panels (float32, AVX-512, one or two rows). Other
    /// reduced precisions and shapes step aside to the per-step operations.
    /// </summary>
    private bool SequencePrecisionFits(int rows) => !Reduced || Bf16Panels(rows);

    /// <summary>Whether the loop over <paramref name="rows"/> rows multiplies by BF16 panels.</summary>
    private bool Bf16Panels(int rows) =>
        _precision == GemmPrecision.Bf16 && typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated
        && FewRowWidth(rows) == 8 * Vector512<T>.Count;

    /// <summary><see cref="PackGatePanels"/> in BF16 (<see cref="ToBf16Panels"/>).</summary>
    private static readonly PackedOperandCache<T>.Packer PackGatePanelsBf16 = (s, b, width, panels) => PackBf16(PackGatePanels, s, b, width, panels);

    /// <summary><see cref="PackWholeB"/> (wide panels) in BF16 (<see cref="ToBf16Panels"/>).</summary>
    private static readonly PackedOperandCache<T>.Packer PackWholeBBf16 = (s, b, width, panels) => PackBf16(PackWholeB, s, b, width, panels);

    /// <summary>Elements of T that the BF16 form of a packed op(B) takes: half the float32 form's.</summary>
    private static long Bf16PackedLength(GemmShape s, int width) => PackedOperandCache<T>.PackedLength(s.K, s.N, width) / 2;

    private static void PackBf16(PackedOperandCache<T>.Packer pack, GemmShape s, BufferSlice<T> b, int width, Span<T> panels)
    {
        // Once per weight version: the float32 panels in a scratch of their own, then rounded.
        var full = GC.AllocateUninitializedArray<T>((int)PackedOperandCache<T>.PackedLength(s.K, s.N, width));
        pack(s, b, width, full);
        ToBf16Panels(MemoryMarshal.Cast<T, float>(full), MemoryMarshal.Cast<T, ushort>(panels));
    }

    /// <summary>
    /// Float32 panels as BF16 storage, element for element, each register panel's 32 columns
    /// (2 × 16 lanes) interleaved: the 32-bit word i of a panel's step holds column i in its low half
    /// and column 16 + i in its high half, so one load and two one-instruction widenings (shift left
    /// by 16, and the high half masked) give the panel's two registers of float32 columns. Every
    /// arrangement of the loop's wide panels is whole register panels at multiples of 32 elements,
    /// so the BF16 form keeps its offsets (in 16-bit elements).
    /// </summary>
    private static void ToBf16Panels(ReadOnlySpan<float> from, Span<ushort> to)
    {
        const int w = 16, nr = 2 * w;
        System.Diagnostics.Debug.Assert(from.Length % nr == 0 && to.Length == from.Length, "whole register panels");
        for (int p = 0; p < from.Length; p += nr)
        {
            for (int i = 0; i < w; i++)
            {
                to[p + 2 * i] = ReducedPrecision.ToBf16Bits(from[p + i]);
                to[p + 2 * i + 1] = ReducedPrecision.ToBf16Bits(from[p + w + i]);
            }
        }
    }

    /// <summary>
    /// <paramref name="count"/> values rounded to BF16 (<see cref="ReducedPrecision.ToBf16"/>, kept as
    /// float32): 16 lanes at a time, the tail one by one.
    /// </summary>
    /// <param name="source">The first value.</param>
    /// <param name="destination">Where its rounded value goes (may be <paramref name="source"/>).</param>
    /// <param name="count">Values.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RoundBf16(ref T source, ref T destination, int count)
    {
        ref uint from = ref Unsafe.As<T, uint>(ref source);
        ref uint to = ref Unsafe.As<T, uint>(ref destination);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var exponent = Vector512.Create(0x7F80_0000u);
            var mantissa = Vector512.Create(0x007F_FFFFu);
            var quiet = Vector512.Create(0x0040_0000u);
            var high = Vector512.Create(0xFFFF_0000u);
            var half = Vector512.Create(0x7FFFu);
            var one = Vector512<uint>.One;
            for (; i + 16 <= count; i += 16)
            {
                var bits = Vector512.LoadUnsafe(ref from, (nuint)i);
                // Finite: to nearest, ties to even. ±∞ kept, a NaN made quiet.
                var rounded = (bits + half + (Vector512.ShiftRightLogical(bits, 16) & one)) & high;
                var nonFinite = Vector512.Equals(bits & exponent, exponent);
                var nan = nonFinite & ~Vector512.Equals(bits & mantissa, Vector512<uint>.Zero);
                var special = (bits | (nan & quiet)) & high;
                Vector512.ConditionalSelect(nonFinite, special, rounded).StoreUnsafe(ref to, (nuint)i);
            }
        }

        for (; i < count; i++)
            Unsafe.Add(ref to, i) = (uint)ReducedPrecision.ToBf16Bits(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref from, i))) << 16;
    }

    /// <summary>
    /// <see cref="WidePanel{TV, TS}"/> over a BF16 wide panel (<see cref="ToBf16Panels"/>; 4 register
    /// panels of 16 words a step, 64 words from one step to the next) with op(A) already rounded
    /// to BF16: the same tiles, the same sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidePanelBf16(int kc, int rows, ref T a, nint aRow, ref T panel, ref T tile)
    {
        ref float af = ref Unsafe.As<T, float>(ref a);
        ref uint b = ref Unsafe.As<T, uint>(ref panel);
        ref float t = ref Unsafe.As<T, float>(ref tile);
        if (rows == 1)
            Bf16Kernel4<CpuGemm.C1>(kc, ref af, aRow, ref b, ref t);
        else
            Bf16Kernel4<CpuGemm.C2>(kc, ref af, aRow, ref b, ref t);
    }

    /// <summary>
    /// <see cref="CpuGemm.Kernel4{T, TV, TS, TRows}"/> for one or two rows of a BF16-rounded op(A)
    /// (row r, step k at a + r·aRow + k) against a BF16 wide panel: each step loads the four register
    /// panels' 64 words (half the float32 panel's bytes) and widens each to its two registers of
    /// float32 columns, then the same FMAs in the same order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Kernel4<TRows>(int kc, ref float a, nint aRow, ref uint b, ref float tile)
        where TRows : CpuGemm.IConstant
    {
        const int w = 16, nr = 2 * w;
        var high = Vector512.Create(0xFFFF_0000u);
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        for (int k = 0; k < kc; k++)
        {
            var p0 = Vector512.LoadUnsafe(ref b);
            var p1 = Vector512.LoadUnsafe(ref b, w);
            var p2 = Vector512.LoadUnsafe(ref b, 2 * w);
            var p3 = Vector512.LoadUnsafe(ref b, 3 * w);
            var x0 = Vector512.ShiftLeft(p0, 16).AsSingle();
            var x1 = (p0 & high).AsSingle();
            var x2 = Vector512.ShiftLeft(p1, 16).AsSingle();
            var x3 = (p1 & high).AsSingle();
            var x4 = Vector512.ShiftLeft(p2, 16).AsSingle();
            var x5 = (p2 & high).AsSingle();
            var x6 = Vector512.ShiftLeft(p3, 16).AsSingle();
            var x7 = (p3 & high).AsSingle();
            var av = Vector512.Create(a);
            c00 = Vector512.FusedMultiplyAdd(av, x0, c00);
            c01 = Vector512.FusedMultiplyAdd(av, x1, c01);
            c02 = Vector512.FusedMultiplyAdd(av, x2, c02);
            c03 = Vector512.FusedMultiplyAdd(av, x3, c03);
            c04 = Vector512.FusedMultiplyAdd(av, x4, c04);
            c05 = Vector512.FusedMultiplyAdd(av, x5, c05);
            c06 = Vector512.FusedMultiplyAdd(av, x6, c06);
            c07 = Vector512.FusedMultiplyAdd(av, x7, c07);
            if (TRows.Value > 1)
            {
                av = Vector512.Create(Unsafe.Add(ref a, aRow));
                c10 = Vector512.FusedMultiplyAdd(av, x0, c10);
                c11 = Vector512.FusedMultiplyAdd(av, x1, c11);
                c12 = Vector512.FusedMultiplyAdd(av, x2, c12);
                c13 = Vector512.FusedMultiplyAdd(av, x3, c13);
                c14 = Vector512.FusedMultiplyAdd(av, x4, c14);
                c15 = Vector512.FusedMultiplyAdd(av, x5, c15);
                c16 = Vector512.FusedMultiplyAdd(av, x6, c16);
                c17 = Vector512.FusedMultiplyAdd(av, x7, c17);
            }

            a = ref Unsafe.Add(ref a, 1);
            b = ref Unsafe.Add(ref b, 4 * w);
        }

        nint t = CpuGemm.MR * nr;
        c00.StoreUnsafe(ref tile);
        c01.StoreUnsafe(ref Unsafe.Add(ref tile, w));
        c02.StoreUnsafe(ref Unsafe.Add(ref tile, t));
        c03.StoreUnsafe(ref Unsafe.Add(ref tile, t + w));
        c04.StoreUnsafe(ref Unsafe.Add(ref tile, 2 * t));
        c05.StoreUnsafe(ref Unsafe.Add(ref tile, 2 * t + w));
        c06.StoreUnsafe(ref Unsafe.Add(ref tile, 3 * t));
        c07.StoreUnsafe(ref Unsafe.Add(ref tile, 3 * t + w));
        if (TRows.Value > 1)
        {
            c10.StoreUnsafe(ref Unsafe.Add(ref tile, nr));
            c11.StoreUnsafe(ref Unsafe.Add(ref tile, nr + w));
            c12.StoreUnsafe(ref Unsafe.Add(ref tile, t + nr));
            c13.StoreUnsafe(ref Unsafe.Add(ref tile, t + nr + w));
            c14.StoreUnsafe(ref Unsafe.Add(ref tile, 2 * t + nr));
            c15.StoreUnsafe(ref Unsafe.Add(ref tile, 2 * t + nr + w));
            c16.StoreUnsafe(ref Unsafe.Add(ref tile, 3 * t + nr));
            c17.StoreUnsafe(ref Unsafe.Add(ref tile, 3 * t + nr + w));
        }
    }
}
