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
/// groups of 16 lanes and a row's last 1–15 units as one masked group (at a small H a scalar
/// tail would cost more than the row's vector part).
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void LstmCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        bool hasBias = biasIh.HasValue && biasHh.HasValue;
        int chunks = CpuParallel.Chunks(batch, n * LstmWorkPerElement);
        if (acts is { } store)
        {
            var args = new LstmForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, cPrev, c, h, store);
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => Forward<Training>(a, b0, b1));
        }
        else
        {
            var args = new LstmForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, cPrev, c, h, xproj);
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => Forward<Inference>(a, b0, b1));
        }
    }

    protected override void LstmCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        var args = new LstmBackwardArgs(hidden, dy, dhRec, dc, acts, c, cPrev, dgates);
        CpuParallel.For(batch, CpuParallel.Chunks(batch, n * LstmWorkPerElement), args, static (a, b0, b1) => Backward(a, b0, b1));
    }

    /// <summary>Element operations one hidden unit of an LSTM step costs, for <see cref="CpuParallel.Chunks"/>.</summary>
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
        ref T rDy = ref CpuBuffer<T>.ReadOnlyRef(args.Dy);
        ref T rDh = ref CpuBuffer<T>.ReadOnlyRef(args.DhRec);
        ref T rDc = ref CpuBuffer<T>.Ref(args.Dc);
        ref T rActs = ref CpuBuffer<T>.ReadOnlyRef(args.Acts);
        ref T rC = ref CpuBuffer<T>.ReadOnlyRef(args.C);
        ref T rCp = ref CpuBuffer<T>.ReadOnlyRef(args.CPrev);
        ref T rDg = ref CpuBuffer<T>.Ref(args.Dgates);
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
        ref T rX = ref CpuBuffer<T>.ReadOnlyRef(args.Xproj);
        ref T rH = ref CpuBuffer<T>.ReadOnlyRef(args.Hproj);
        ref T rCp = ref CpuBuffer<T>.ReadOnlyRef(args.CPrev);
        ref T rC = ref CpuBuffer<T>.Ref(args.C);
        ref T rHo = ref CpuBuffer<T>.Ref(args.H);
        ref T rA = ref TVariant.StoresActivations ? ref CpuBuffer<T>.Ref(args.Acts) : ref rX;
        // bias=False reads zeros: one vector of them stands in for both bias rows.
        Span<T> zeros = stackalloc T[hasBias ? 0 : 4 * Vector<T>.Count];
        ref T rBi = ref hasBias ? ref CpuBuffer<T>.ReadOnlyRef(args.BiasIh) : ref MemoryMarshal.GetReference(zeros);
        ref T rBh = ref hasBias ? ref CpuBuffer<T>.ReadOnlyRef(args.BiasHh) : ref MemoryMarshal.GetReference(zeros);
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
