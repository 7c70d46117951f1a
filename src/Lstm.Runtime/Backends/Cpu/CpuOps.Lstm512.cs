using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lstm.Kernels;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Cpu;

/// <content>The LSTM cell's float32 AVX-512 paths: 16 lanes at a time, a row's last 1–15 units as one masked group.</content>
internal sealed partial class CpuOps<T>
{
    /// <summary>
    /// The forward step's 16-lane float32 part of one batch row (AVX-512): hidden units
    /// [j0, j0 + 16·⌊(j1 - j0)/16⌋), the same operations as the <see cref="Vector{T}"/> loop. Returns the first unit left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Forward512<TVariant>(
        int hidden, int j0, int j1, nuint e0, nuint row, nuint biasStride, ref T rX, ref T rH, ref T rBi, ref T rBh, ref T rCp, ref T rC, ref T rHo, ref T rA)
        where TVariant : IVariant
    {
        ref float x = ref Unsafe.As<T, float>(ref rX);
        ref float hp = ref Unsafe.As<T, float>(ref rH);
        ref float bi = ref Unsafe.As<T, float>(ref rBi);
        ref float bhh = ref Unsafe.As<T, float>(ref rBh);
        ref float cp = ref Unsafe.As<T, float>(ref rCp);
        ref float cOut = ref Unsafe.As<T, float>(ref rC);
        ref float hOut = ref Unsafe.As<T, float>(ref rHo);
        ref float a = ref Unsafe.As<T, float>(ref rA);
        nuint hh = (nuint)hidden;
        nuint bh = hh * biasStride;
        int j = j0;
        // Two groups of 16 lanes at a time, their σ and tanh interleaved: one group's chains of
        // dependent operations leave the core idle; two keep it busy. Lane for lane the same
        // operations as the single group below.
        for (; j <= j1 - 32; j += 32)
        {
            nuint e = e0 + (nuint)j;
            nuint q = row + (nuint)j;
            nuint bq = (nuint)j * biasStride;
            nuint bq1 = (nuint)(j + 16) * biasStride;
            var i0 = Preactivation(ref x, ref hp, ref bi, ref bhh, q, bq);
            var i1 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 16, bq1);
            var f0 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + hh, bq + bh);
            var f1 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 16 + hh, bq1 + bh);
            var g0 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 2 * hh, bq + 2 * bh);
            var g1 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 16 + 2 * hh, bq1 + 2 * bh);
            var o0 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 3 * hh, bq + 3 * bh);
            var o1 = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 16 + 3 * hh, bq1 + 3 * bh);
            SigmoidOperator.Invoke(ref i0, ref i1);
            SigmoidOperator.Invoke(ref f0, ref f1);
            TanhOperator.Invoke(ref g0, ref g1);
            SigmoidOperator.Invoke(ref o0, ref o1);
            var c0 = f0 * Vector512.LoadUnsafe(ref cp, e) + i0 * g0;
            var c1 = f1 * Vector512.LoadUnsafe(ref cp, e + 16) + i1 * g1;
            c0.StoreUnsafe(ref cOut, e);
            c1.StoreUnsafe(ref cOut, e + 16);
            var t0 = c0;
            var t1 = c1;
            TanhOperator.Invoke(ref t0, ref t1);
            (o0 * t0).StoreUnsafe(ref hOut, e);
            (o1 * t1).StoreUnsafe(ref hOut, e + 16);
            if (TVariant.StoresActivations)
            {
                i0.StoreUnsafe(ref a, q);
                i1.StoreUnsafe(ref a, q + 16);
                f0.StoreUnsafe(ref a, q + hh);
                f1.StoreUnsafe(ref a, q + 16 + hh);
                g0.StoreUnsafe(ref a, q + 2 * hh);
                g1.StoreUnsafe(ref a, q + 16 + 2 * hh);
                o0.StoreUnsafe(ref a, q + 3 * hh);
                o1.StoreUnsafe(ref a, q + 16 + 3 * hh);
            }
        }

        for (; j <= j1 - 16; j += 16)
        {
            nuint e = e0 + (nuint)j;
            nuint q = row + (nuint)j;
            nuint bq = (nuint)j * biasStride;
            var gi = Preactivation(ref x, ref hp, ref bi, ref bhh, q, bq);
            var gf = Preactivation(ref x, ref hp, ref bi, ref bhh, q + hh, bq + bh);
            var gg = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 2 * hh, bq + 2 * bh);
            var go = Preactivation(ref x, ref hp, ref bi, ref bhh, q + 3 * hh, bq + 3 * bh);
            var i = SigmoidOperator.Invoke(gi);
            var f = SigmoidOperator.Invoke(gf);
            var g = TanhOperator.Invoke(gg);
            var o = SigmoidOperator.Invoke(go);
            var cNew = f * Vector512.LoadUnsafe(ref cp, e) + i * g;
            cNew.StoreUnsafe(ref cOut, e);
            (o * TanhOperator.Invoke(cNew)).StoreUnsafe(ref hOut, e);
            if (TVariant.StoresActivations)
            {
                i.StoreUnsafe(ref a, q);
                f.StoreUnsafe(ref a, q + hh);
                g.StoreUnsafe(ref a, q + 2 * hh);
                o.StoreUnsafe(ref a, q + 3 * hh);
            }
        }

        if (j < j1 && Avx512F.IsSupported)
        {
            ForwardTail512<TVariant>(j1 - j, e0 + (nuint)j, row + (nuint)j, (nuint)j * biasStride, hh, bh, ref x, ref hp, ref bi, ref bhh, ref cp, ref cOut, ref hOut, ref a);
            j = j1;
        }

        return j;
    }

    /// <summary>
    /// The last <paramref name="lanes"/> (1–15) units of a row as one masked group of 16 lanes:
    /// lane for lane the operations of the full groups (lanes past the row read 0 and are not
    /// written), so a unit's value does not depend on where in the row it falls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ForwardTail512<TVariant>(
        int lanes, nuint e, nuint q, nuint bq, nuint hh, nuint bh,
        ref float x, ref float hp, ref float bi, ref float bhh, ref float cp, ref float cOut, ref float hOut, ref float a)
        where TVariant : IVariant
    {
        var m = TailMask(lanes);
        fixed (float* px = &x, php = &hp, pbi = &bi, pbh = &bhh, pcp = &cp, pc = &cOut, ph = &hOut, pa = &a)
        {
            var gi = MaskedPreactivation(m, px, php, pbi, pbh, q, bq);
            var gf = MaskedPreactivation(m, px, php, pbi, pbh, q + hh, bq + bh);
            var gg = MaskedPreactivation(m, px, php, pbi, pbh, q + 2 * hh, bq + 2 * bh);
            var go = MaskedPreactivation(m, px, php, pbi, pbh, q + 3 * hh, bq + 3 * bh);
            var i = SigmoidOperator.Invoke(gi);
            var f = SigmoidOperator.Invoke(gf);
            var g = TanhOperator.Invoke(gg);
            var o = SigmoidOperator.Invoke(go);
            var cNew = f * Avx512F.MaskLoad(pcp + e, m, default) + i * g;
            Avx512F.MaskStore(pc + e, m, cNew);
            Avx512F.MaskStore(ph + e, m, o * TanhOperator.Invoke(cNew));
            if (TVariant.StoresActivations)
            {
                Avx512F.MaskStore(pa + q, m, i);
                Avx512F.MaskStore(pa + q + hh, m, f);
                Avx512F.MaskStore(pa + q + 2 * hh, m, g);
                Avx512F.MaskStore(pa + q + 3 * hh, m, o);
            }
        }
    }

    /// <summary>The first <paramref name="lanes"/> of 16 float32 lanes set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TailMask(int lanes) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(lanes)).AsSingle();

    /// <summary><see cref="Preactivation"/> of the lanes in <paramref name="m"/> (0 in the others).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> MaskedPreactivation(Vector512<float> m, float* x, float* hp, float* bi, float* bhh, nuint q, nuint bq) =>
        Avx512F.MaskLoad(x + q, m, default) + Avx512F.MaskLoad(hp + q, m, default)
        + (Avx512F.MaskLoad(bi + bq, m, default) + Avx512F.MaskLoad(bhh + bq, m, default));

    /// <summary>A gate's pre-activation of 16 lanes: (xproj + hproj) + (b_ih + b_hh), the order of every other path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Preactivation(ref float x, ref float hp, ref float bi, ref float bhh, nuint q, nuint bq) =>
        Vector512.LoadUnsafe(ref x, q) + Vector512.LoadUnsafe(ref hp, q) + (Vector512.LoadUnsafe(ref bi, bq) + Vector512.LoadUnsafe(ref bhh, bq));

    /// <summary>
    /// The backward step's 16-lane float32 part of one batch row (AVX-512), the same operations as
    /// the <see cref="Vector{T}"/> loop. Returns the first hidden unit left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Backward512(int hidden, int j0, int j1, nuint e0, nuint row, ref T rDy, ref T rDh, ref T rDc, ref T rActs, ref T rC, ref T rCp, ref T rDg)
    {
        ref float dyr = ref Unsafe.As<T, float>(ref rDy);
        ref float dhr = ref Unsafe.As<T, float>(ref rDh);
        ref float dcr = ref Unsafe.As<T, float>(ref rDc);
        ref float ar = ref Unsafe.As<T, float>(ref rActs);
        ref float cr = ref Unsafe.As<T, float>(ref rC);
        ref float cpr = ref Unsafe.As<T, float>(ref rCp);
        ref float dgr = ref Unsafe.As<T, float>(ref rDg);
        nuint hh = (nuint)hidden;
        var one = Vector512<float>.One;
        int j = j0;
        for (; j <= j1 - 16; j += 16)
        {
            nuint e = e0 + (nuint)j;
            nuint q = row + (nuint)j;
            var i = Vector512.LoadUnsafe(ref ar, q);
            var f = Vector512.LoadUnsafe(ref ar, q + hh);
            var gg = Vector512.LoadUnsafe(ref ar, q + 2 * hh);
            var o = Vector512.LoadUnsafe(ref ar, q + 3 * hh);
            var tc = TanhOperator.Invoke(Vector512.LoadUnsafe(ref cr, e));
            var dh = Vector512.LoadUnsafe(ref dyr, e) + Vector512.LoadUnsafe(ref dhr, e);
            var dcTotal = dh * o * (one - tc * tc) + Vector512.LoadUnsafe(ref dcr, e);
            (dcTotal * gg * (i * (one - i))).StoreUnsafe(ref dgr, q);
            (dcTotal * Vector512.LoadUnsafe(ref cpr, e) * (f * (one - f))).StoreUnsafe(ref dgr, q + hh);
            (dcTotal * i * (one - gg * gg)).StoreUnsafe(ref dgr, q + 2 * hh);
            (dh * tc * (o * (one - o))).StoreUnsafe(ref dgr, q + 3 * hh);
            (dcTotal * f).StoreUnsafe(ref dcr, e);
        }

        if (j < j1 && Avx512F.IsSupported)
        {
            BackwardTail512(j1 - j, e0 + (nuint)j, row + (nuint)j, hh, ref dyr, ref dhr, ref dcr, ref ar, ref cr, ref cpr, ref dgr);
            j = j1;
        }

        return j;
    }

    /// <summary>The last <paramref name="lanes"/> (1–15) units of a row backward as one masked group, as <see cref="ForwardTail512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void BackwardTail512(
        int lanes, nuint e, nuint q, nuint hh, ref float dyr, ref float dhr, ref float dcr, ref float ar, ref float cr, ref float cpr, ref float dgr)
    {
        var m = TailMask(lanes);
        var one = Vector512<float>.One;
        fixed (float* pdy = &dyr, pdh = &dhr, pdc = &dcr, pa = &ar, pc = &cr, pcp = &cpr, pdg = &dgr)
        {
            var i = Avx512F.MaskLoad(pa + q, m, default);
            var f = Avx512F.MaskLoad(pa + q + hh, m, default);
            var gg = Avx512F.MaskLoad(pa + q + 2 * hh, m, default);
            var o = Avx512F.MaskLoad(pa + q + 3 * hh, m, default);
            var tc = TanhOperator.Invoke(Avx512F.MaskLoad(pc + e, m, default));
            var dh = Avx512F.MaskLoad(pdy + e, m, default) + Avx512F.MaskLoad(pdh + e, m, default);
            var dcTotal = dh * o * (one - tc * tc) + Avx512F.MaskLoad(pdc + e, m, default);
            Avx512F.MaskStore(pdg + q, m, dcTotal * gg * (i * (one - i)));
            Avx512F.MaskStore(pdg + q + hh, m, dcTotal * Avx512F.MaskLoad(pcp + e, m, default) * (f * (one - f)));
            Avx512F.MaskStore(pdg + q + 2 * hh, m, dcTotal * i * (one - gg * gg));
            Avx512F.MaskStore(pdg + q + 3 * hh, m, dh * tc * (o * (one - o)));
            Avx512F.MaskStore(pdc + e, m, dcTotal * f);
        }
    }
}
