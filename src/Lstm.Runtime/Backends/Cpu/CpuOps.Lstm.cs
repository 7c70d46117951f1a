using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lstm.Kernels;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The fused LSTM cell, forward (training and inference variants) and backward: the semantics of
/// <see cref="LstmCellKernels"/>, row by row of the batch, <see cref="Vector{T}"/> lanes over the
/// hidden units and the kernels' scalar math for the tail of each row; float32 on AVX-512 takes
/// groups of 16 lanes and a row's last 1–15 units as one masked group (at H = 20, the seed's
/// size, the scalar tail was 2.5 times the time of the row's vector part).
/// </summary>
internal sealed partial class CpuOps<T>
{
    public void LstmCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        if (batch < 0 || hidden < 0)
            throw new LstmException($"cpu lstm_cell_forward: negative size B={batch}, H={hidden}");
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        long g = 4 * n;
        Require(xproj, g, "xproj [B, 4H]", "lstm_cell_forward");
        Require(hproj, g, "hproj [B, 4H]", "lstm_cell_forward");
        Require(cPrev, n, "c_{t-1} [B, H]", "lstm_cell_forward");
        Require(c, n, "c_t [B, H]", "lstm_cell_forward");
        Require(h, n, "h_t [B, H]", "lstm_cell_forward");
        bool hasBias = biasIh.HasValue && biasHh.HasValue;
        if (hasBias)
        {
            Require(biasIh!.Value, 4L * hidden, "b_ih [4H]", "lstm_cell_forward");
            Require(biasHh!.Value, 4L * hidden, "b_hh [4H]", "lstm_cell_forward");
        }

        int chunks = HostParallel.Chunks(batch, n * LstmWorkPerElement);
        if (acts is { } store)
        {
            Require(store, g, "acts [B, 4H]", "lstm_cell_forward");
            var args = new LstmForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, cPrev, c, h, store);
            HostParallel.For(batch, chunks, args, static (a, b0, b1) => Forward<Training>(a, b0, b1));
        }
        else
        {
            var args = new LstmForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, cPrev, c, h, xproj);
            HostParallel.For(batch, chunks, args, static (a, b0, b1) => Forward<Inference>(a, b0, b1));
        }
    }

    public void LstmCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates)
    {
        if (batch < 0 || hidden < 0)
            throw new LstmException($"cpu lstm_cell_backward: negative size B={batch}, H={hidden}");
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        Require(dy, n, "dy [B, H]", "lstm_cell_backward");
        Require(dhRec, n, "dh_rec [B, H]", "lstm_cell_backward");
        Require(dc, n, "dc [B, H]", "lstm_cell_backward");
        Require(acts, 4 * n, "acts [B, 4H]", "lstm_cell_backward");
        Require(c, n, "c_t [B, H]", "lstm_cell_backward");
        Require(cPrev, n, "c_{t-1} [B, H]", "lstm_cell_backward");
        Require(dgates, 4 * n, "dgates [B, 4H]", "lstm_cell_backward");
        var args = new LstmBackwardArgs(hidden, dy, dhRec, dc, acts, c, cPrev, dgates);
        HostParallel.For(batch, HostParallel.Chunks(batch, n * LstmWorkPerElement), args, static (a, b0, b1) => Backward(a, b0, b1));
    }

    /// <summary>Element operations one hidden unit of an LSTM step costs, for <see cref="HostParallel.Chunks"/>.</summary>
    private const long LstmWorkPerElement = 48;

    /// <summary>The forward step's operands, handed to each chunk of rows without a closure.</summary>
    /// <param name="Hidden">H.</param>
    /// <param name="Xproj">[B, 4H].</param>
    /// <param name="Hproj">[B, 4H].</param>
    /// <param name="BiasIh">[4H]; read only when HasBias.</param>
    /// <param name="BiasHh">[4H]; read only when HasBias.</param>
    /// <param name="HasBias">False for bias=False.</param>
    /// <param name="CPrev">[B, H].</param>
    /// <param name="C">[B, H]; may be CPrev.</param>
    /// <param name="H">[B, H].</param>
    /// <param name="Acts">[B, 4H]; written only by the training variant.</param>
    private readonly record struct LstmForwardArgs(
        int Hidden, BufferSlice<T> Xproj, BufferSlice<T> Hproj, BufferSlice<T> BiasIh, BufferSlice<T> BiasHh, bool HasBias,
        BufferSlice<T> CPrev, BufferSlice<T> C, BufferSlice<T> H, BufferSlice<T> Acts);

    /// <summary>The backward step's operands.</summary>
    /// <param name="Hidden">H.</param>
    /// <param name="Dy">[B, H].</param>
    /// <param name="DhRec">[B, H].</param>
    /// <param name="Dc">[B, H], updated.</param>
    /// <param name="Acts">[B, 4H].</param>
    /// <param name="C">[B, H].</param>
    /// <param name="CPrev">[B, H].</param>
    /// <param name="Dgates">[B, 4H] out.</param>
    private readonly record struct LstmBackwardArgs(
        int Hidden, BufferSlice<T> Dy, BufferSlice<T> DhRec, BufferSlice<T> Dc, BufferSlice<T> Acts,
        BufferSlice<T> C, BufferSlice<T> CPrev, BufferSlice<T> Dgates);

    /// <summary>Backward step over batch rows [b0, b1).</summary>
    private static void Backward(LstmBackwardArgs args, int b0, int b1) => BackwardRange(args, b0, b1, 0, args.Hidden);

    /// <summary>
    /// Backward step over batch rows [b0, b1) and hidden units [j0, j1). With j0 a multiple of 16
    /// and j1 one too (or H), every unit takes the same lane type as in a whole row, so a step
    /// split by units equals the whole step bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRange(in LstmBackwardArgs args, int b0, int b1, int j0, int j1)
    {
        int hidden = args.Hidden;
        ref T rDy = ref HostBuffer<T>.ReadOnlyRef(args.Dy);
        ref T rDh = ref HostBuffer<T>.ReadOnlyRef(args.DhRec);
        ref T rDc = ref HostBuffer<T>.Ref(args.Dc);
        ref T rActs = ref HostBuffer<T>.ReadOnlyRef(args.Acts);
        ref T rC = ref HostBuffer<T>.ReadOnlyRef(args.C);
        ref T rCp = ref HostBuffer<T>.ReadOnlyRef(args.CPrev);
        ref T rDg = ref HostBuffer<T>.Ref(args.Dgates);
        BackwardRows(hidden, ref rDy, ref rDh, ref rDc, ref rActs, ref rC, ref rCp, ref rDg, b0, b1, j0, j1);
    }

    /// <summary><see cref="BackwardRange"/> on resolved operands (dy, dhRec, dc, c, c_{t-1} [B, H]; acts, dgates [B, 4H]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(
        int hidden, ref T rDy, ref T rDh, ref T rDc, ref T rActs, ref T rC, ref T rCp, ref T rDg, int b0, int b1, int j0, int j1)
    {
        int w = Vector<T>.Count;
        var one = Vector<T>.One;
        for (int b = b0; b < b1; b++)
        {
            nuint e0 = (nuint)b * (nuint)hidden;
            nuint row = 4 * e0;
            nuint hh = (nuint)hidden;
            int j = typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated
                ? Backward512(hidden, j0, j1, e0, row, ref rDy, ref rDh, ref rDc, ref rActs, ref rC, ref rCp, ref rDg)
                : j0;
            for (; j <= j1 - w; j += w)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                var i = Vector.LoadUnsafe(ref rActs, q);
                var f = Vector.LoadUnsafe(ref rActs, q + hh);
                var gg = Vector.LoadUnsafe(ref rActs, q + 2 * hh);
                var o = Vector.LoadUnsafe(ref rActs, q + 3 * hh);
                var tc = TanhOperator.Invoke(Vector.LoadUnsafe(ref rC, e));
                var dh = Vector.LoadUnsafe(ref rDy, e) + Vector.LoadUnsafe(ref rDh, e);
                var dcTotal = dh * o * (one - tc * tc) + Vector.LoadUnsafe(ref rDc, e);
                (dcTotal * gg * (i * (one - i))).StoreUnsafe(ref rDg, q);
                (dcTotal * Vector.LoadUnsafe(ref rCp, e) * (f * (one - f))).StoreUnsafe(ref rDg, q + hh);
                (dcTotal * i * (one - gg * gg)).StoreUnsafe(ref rDg, q + 2 * hh);
                (dh * tc * (o * (one - o))).StoreUnsafe(ref rDg, q + 3 * hh);
                (dcTotal * f).StoreUnsafe(ref rDc, e);
            }

            for (; j < j1; j++)
                BackwardScalar(e0 + (nuint)j, row + (nuint)j, hh, ref rDy, ref rDh, ref rDc, ref rActs, ref rC, ref rCp, ref rDg);
        }
    }

    /// <summary>Selects the forward variant at compile time (the JIT drops the other's code).</summary>
    private interface IVariant
    {
        static abstract bool StoresActivations { get; }
    }

    private readonly struct Training : IVariant
    {
        public static bool StoresActivations => true;
    }

    private readonly struct Inference : IVariant
    {
        public static bool StoresActivations => false;
    }

    /// <summary>Forward step over batch rows [b0, b1).</summary>
    private static void Forward<TVariant>(LstmForwardArgs args, int b0, int b1)
        where TVariant : IVariant => ForwardRange<TVariant>(args, b0, b1, 0, args.Hidden);

    /// <summary>
    /// Forward step over batch rows [b0, b1) and hidden units [j0, j1); bit for bit the whole
    /// step's values when j0 and j1 are multiples of 16 (or j1 = H), as <see cref="BackwardRange"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRange<TVariant>(in LstmForwardArgs args, int b0, int b1, int j0, int j1)
        where TVariant : IVariant
    {
        int hidden = args.Hidden;
        bool hasBias = args.HasBias;
        ref T rX = ref HostBuffer<T>.ReadOnlyRef(args.Xproj);
        ref T rH = ref HostBuffer<T>.ReadOnlyRef(args.Hproj);
        ref T rCp = ref HostBuffer<T>.ReadOnlyRef(args.CPrev);
        ref T rC = ref HostBuffer<T>.Ref(args.C);
        ref T rHo = ref HostBuffer<T>.Ref(args.H);
        ref T rA = ref TVariant.StoresActivations ? ref HostBuffer<T>.Ref(args.Acts) : ref rX;
        // bias=False reads zeros: one vector of them stands in for both bias rows.
        Span<T> zeros = stackalloc T[hasBias ? 0 : 4 * Vector<T>.Count];
        ref T rBi = ref hasBias ? ref HostBuffer<T>.ReadOnlyRef(args.BiasIh) : ref MemoryMarshal.GetReference(zeros);
        ref T rBh = ref hasBias ? ref HostBuffer<T>.ReadOnlyRef(args.BiasHh) : ref MemoryMarshal.GetReference(zeros);
        ForwardRows<TVariant>(hidden, hasBias ? 1u : 0u, ref rX, ref rH, ref rBi, ref rBh, ref rCp, ref rC, ref rHo, ref rA, b0, b1, j0, j1);
    }

    /// <summary>
    /// <see cref="ForwardRange"/> on resolved operands: xproj, hproj and the activations [B, 4H],
    /// c_{t-1}, c and h [B, H], the biases [4H] (biasStride 1) or one row of zeros read for every unit (biasStride 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows<TVariant>(
        int hidden, nuint biasStride, ref T rX, ref T rH, ref T rBi, ref T rBh, ref T rCp, ref T rC, ref T rHo, ref T rA,
        int b0, int b1, int j0, int j1)
        where TVariant : IVariant
    {
        nuint hh = (nuint)hidden;
        int w = Vector<T>.Count;
        for (int b = b0; b < b1; b++)
        {
            nuint e0 = (nuint)b * hh;
            nuint row = 4 * e0;
            int j = typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated
                ? Forward512<TVariant>(hidden, j0, j1, e0, row, biasStride, ref rX, ref rH, ref rBi, ref rBh, ref rCp, ref rC, ref rHo, ref rA)
                : j0;
            for (; j <= j1 - w; j += w)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                nuint bh = hh * biasStride;
                var gi = Vector.LoadUnsafe(ref rX, q) + Vector.LoadUnsafe(ref rH, q)
                    + (Vector.LoadUnsafe(ref rBi, bq) + Vector.LoadUnsafe(ref rBh, bq));
                var gf = Vector.LoadUnsafe(ref rX, q + hh) + Vector.LoadUnsafe(ref rH, q + hh)
                    + (Vector.LoadUnsafe(ref rBi, bq + bh) + Vector.LoadUnsafe(ref rBh, bq + bh));
                var gg = Vector.LoadUnsafe(ref rX, q + 2 * hh) + Vector.LoadUnsafe(ref rH, q + 2 * hh)
                    + (Vector.LoadUnsafe(ref rBi, bq + 2 * bh) + Vector.LoadUnsafe(ref rBh, bq + 2 * bh));
                var go = Vector.LoadUnsafe(ref rX, q + 3 * hh) + Vector.LoadUnsafe(ref rH, q + 3 * hh)
                    + (Vector.LoadUnsafe(ref rBi, bq + 3 * bh) + Vector.LoadUnsafe(ref rBh, bq + 3 * bh));
                var i = SigmoidOperator.Invoke(gi);
                var f = SigmoidOperator.Invoke(gf);
                var g = TanhOperator.Invoke(gg);
                var o = SigmoidOperator.Invoke(go);
                var cNew = f * Vector.LoadUnsafe(ref rCp, e) + i * g;
                cNew.StoreUnsafe(ref rC, e);
                (o * TanhOperator.Invoke(cNew)).StoreUnsafe(ref rHo, e);
                if (TVariant.StoresActivations)
                {
                    i.StoreUnsafe(ref rA, q);
                    f.StoreUnsafe(ref rA, q + hh);
                    g.StoreUnsafe(ref rA, q + 2 * hh);
                    o.StoreUnsafe(ref rA, q + 3 * hh);
                }
            }

            for (; j < j1; j++)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                nuint bh = hh * biasStride;
                T gi = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q), Unsafe.Add(ref rH, q)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq), Unsafe.Add(ref rBh, bq)));
                T gf = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q + hh), Unsafe.Add(ref rH, q + hh)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq + bh), Unsafe.Add(ref rBh, bq + bh)));
                T gg = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q + 2 * hh), Unsafe.Add(ref rH, q + 2 * hh)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq + 2 * bh), Unsafe.Add(ref rBh, bq + 2 * bh)));
                T go = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q + 3 * hh), Unsafe.Add(ref rH, q + 3 * hh)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq + 3 * bh), Unsafe.Add(ref rBh, bq + 3 * bh)));
                T i = Sigmoid(gi);
                T f = Sigmoid(gf);
                T g = Tanh(gg);
                T o = Sigmoid(go);
                T cNew = Scalar<T>.Add(Scalar<T>.Mul(f, Unsafe.Add(ref rCp, e)), Scalar<T>.Mul(i, g));
                Unsafe.Add(ref rC, e) = cNew;
                Unsafe.Add(ref rHo, e) = Scalar<T>.Mul(o, Tanh(cNew));
                if (TVariant.StoresActivations)
                {
                    Unsafe.Add(ref rA, q) = i;
                    Unsafe.Add(ref rA, q + hh) = f;
                    Unsafe.Add(ref rA, q + 2 * hh) = g;
                    Unsafe.Add(ref rA, q + 3 * hh) = o;
                }
            }
        }
    }

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

    private static void BackwardScalar(
        nuint e, nuint q, nuint hh, ref T rDy, ref T rDh, ref T rDc, ref T rActs, ref T rC, ref T rCp, ref T rDg)
    {
        T one = Scalar<T>.FromDouble(1);
        T i = Unsafe.Add(ref rActs, q);
        T f = Unsafe.Add(ref rActs, q + hh);
        T g = Unsafe.Add(ref rActs, q + 2 * hh);
        T o = Unsafe.Add(ref rActs, q + 3 * hh);
        T tc = Tanh(Unsafe.Add(ref rC, e));
        T dh = Scalar<T>.Add(Unsafe.Add(ref rDy, e), Unsafe.Add(ref rDh, e));
        T dcTotal = Scalar<T>.Add(Scalar<T>.Mul(Scalar<T>.Mul(dh, o), Scalar<T>.Sub(one, Scalar<T>.Mul(tc, tc))), Unsafe.Add(ref rDc, e));
        Unsafe.Add(ref rDg, q) = Scalar<T>.Mul(Scalar<T>.Mul(dcTotal, g), Scalar<T>.Mul(i, Scalar<T>.Sub(one, i)));
        Unsafe.Add(ref rDg, q + hh) = Scalar<T>.Mul(Scalar<T>.Mul(dcTotal, Unsafe.Add(ref rCp, e)), Scalar<T>.Mul(f, Scalar<T>.Sub(one, f)));
        Unsafe.Add(ref rDg, q + 2 * hh) = Scalar<T>.Mul(Scalar<T>.Mul(dcTotal, i), Scalar<T>.Sub(one, Scalar<T>.Mul(g, g)));
        Unsafe.Add(ref rDg, q + 3 * hh) = Scalar<T>.Mul(Scalar<T>.Mul(dh, tc), Scalar<T>.Mul(o, Scalar<T>.Sub(one, o)));
        Unsafe.Add(ref rDc, e) = Scalar<T>.Mul(dcTotal, f);
    }

    /// <summary>The GPU kernels' precise σ (scalar, for row tails).</summary>
    private static T Sigmoid(T x) => typeof(T) == typeof(float)
        ? (T)(object)default(F32Ops).Sigmoid((float)(object)x)
        : (T)(object)default(F64Ops).Sigmoid((double)(object)x);

    /// <summary>The GPU kernels' precise tanh (scalar, for row tails).</summary>
    private static T Tanh(T x) => typeof(T) == typeof(float)
        ? (T)(object)default(F32Ops).Tanh((float)(object)x)
        : (T)(object)default(F64Ops).Tanh((double)(object)x);
}
