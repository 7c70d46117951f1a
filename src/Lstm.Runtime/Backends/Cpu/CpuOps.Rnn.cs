using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lstm.Kernels;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The plain RNN cell, forward and backward: the semantics of <see cref="RnnCellKernels"/>. The
/// forward pass runs row by row of the batch (the biases are indexed by hidden unit), the
/// backward pass over the flat [B, H] elements; <see cref="Vector{T}"/> lanes with scalar tails,
/// the activation chosen once per call through a type argument so the loops carry no branch.
/// </summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Element operations one hidden unit of an RNN step costs, for <see cref="CpuParallel.Chunks"/>.</summary>
    private const long RnnWorkPerElement = 24;

    protected override void RnnCellForwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> xproj, BufferSlice<T> hproj,
        BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, BufferSlice<T> h)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        bool hasBias = biasIh.HasValue && biasHh.HasValue;
        var args = new RnnForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, h);
        int chunks = CpuParallel.Chunks(batch, n * RnnWorkPerElement);
        if (relu)
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => RnnForwardRows<ReluAct>(a, b0, b1));
        else
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => RnnForwardRows<TanhAct>(a, b0, b1));
    }

    protected override void RnnCellBackwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> dy, BufferSlice<T> dhRec,
        BufferSlice<T> h, BufferSlice<T> dgates)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        // Flat elements in whole vectors per chunk, so only the last chunk has a scalar tail.
        int w = Vector<T>.Count;
        int blocks = (int)((n + w - 1) / w);
        var args = new RnnBackwardArgs((int)n, dy, dhRec, h, dgates);
        int chunks = CpuParallel.Chunks(blocks, 4 * n);
        if (relu)
            CpuParallel.For(blocks, chunks, args, static (a, v0, v1) => RnnBackwardBlocks<ReluAct>(a, v0, v1));
        else
            CpuParallel.For(blocks, chunks, args, static (a, v0, v1) => RnnBackwardBlocks<TanhAct>(a, v0, v1));
    }

    /// <summary>The RNN's activation and its derivative read from the output (compile-time choice).</summary>
    private interface IActivation
    {
        /// <summary>act of every lane.</summary>
        static abstract Vector<T> Apply(Vector<T> a);

        /// <summary>act of one value.</summary>
        static abstract T Apply(T a);

        /// <summary>dh ⊙ act'(x) from h = act(x), every lane.</summary>
        static abstract Vector<T> Backward(Vector<T> dh, Vector<T> h);

        /// <summary>dh · act'(x) from h = act(x), one value.</summary>
        static abstract T Backward(T dh, T h);
    }

    /// <summary>tanh: act' = 1 − h².</summary>
    private readonly struct TanhAct : IActivation
    {
        public static Vector<T> Apply(Vector<T> a) => TanhOperator.Invoke(a);

        public static T Apply(T a) => Tanh(a);

        public static Vector<T> Backward(Vector<T> dh, Vector<T> h) => dh * (Vector<T>.One - h * h);

        public static T Backward(T dh, T h) => Scalar<T>.Mul(dh, Scalar<T>.Sub(Scalar<T>.FromDouble(1), Scalar<T>.Mul(h, h)));
    }

    /// <summary>ReLU as the kernel writes it (a &gt; 0 ? a : 0, so NaN gives 0): act' = h &gt; 0 ? 1 : 0.</summary>
    private readonly struct ReluAct : IActivation
    {
        public static Vector<T> Apply(Vector<T> a) => Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<T>.Zero), a, Vector<T>.Zero);

        public static T Apply(T a) => Scalar<T>.ToDouble(a) > 0 ? a : default;

        public static Vector<T> Backward(Vector<T> dh, Vector<T> h) => Vector.ConditionalSelect(Vector.GreaterThan(h, Vector<T>.Zero), dh, Vector<T>.Zero);

        public static T Backward(T dh, T h) => Scalar<T>.ToDouble(h) > 0 ? dh : default;
    }

    /// <summary>The forward step's operands.</summary>
    /// <param name="Hidden">H.</param>
    /// <param name="Xproj">[B, H].</param>
    /// <param name="Hproj">[B, H].</param>
    /// <param name="BiasIh">[H]; read only when HasBias.</param>
    /// <param name="BiasHh">[H]; read only when HasBias.</param>
    /// <param name="HasBias">False for bias=False.</param>
    /// <param name="H">[B, H] out; may be Xproj or Hproj.</param>
    private readonly record struct RnnForwardArgs(
        int Hidden, BufferSlice<T> Xproj, BufferSlice<T> Hproj, BufferSlice<T> BiasIh, BufferSlice<T> BiasHh, bool HasBias, BufferSlice<T> H);

    /// <summary>The backward step's operands.</summary>
    /// <param name="Count">B·H.</param>
    /// <param name="Dy">[B, H].</param>
    /// <param name="DhRec">[B, H].</param>
    /// <param name="H">[B, H].</param>
    /// <param name="Dgates">[B, H] out; may be Dy or DhRec.</param>
    private readonly record struct RnnBackwardArgs(int Count, BufferSlice<T> Dy, BufferSlice<T> DhRec, BufferSlice<T> H, BufferSlice<T> Dgates);

    /// <summary>Forward step over batch rows [b0, b1).</summary>
    private static void RnnForwardRows<TAct>(RnnForwardArgs args, int b0, int b1)
        where TAct : IActivation
    {
        int hidden = args.Hidden;
        ref T rX = ref CpuBuffer<T>.Ref(args.Xproj);
        ref T rH = ref CpuBuffer<T>.Ref(args.Hproj);
        ref T rHo = ref CpuBuffer<T>.Ref(args.H);
        // bias=False reads zeros: one vector of them stands in for both bias rows.
        Span<T> zeros = stackalloc T[args.HasBias ? 0 : Vector<T>.Count];
        ref T rBi = ref args.HasBias ? ref CpuBuffer<T>.Ref(args.BiasIh) : ref MemoryMarshal.GetReference(zeros);
        ref T rBh = ref args.HasBias ? ref CpuBuffer<T>.Ref(args.BiasHh) : ref MemoryMarshal.GetReference(zeros);
        nuint biasStride = args.HasBias ? 1u : 0u;
        int w = Vector<T>.Count;
        for (int b = b0; b < b1; b++)
        {
            nuint e0 = (nuint)b * (nuint)hidden;
            int j = 0;
            for (; j <= hidden - w; j += w)
            {
                nuint e = e0 + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                var a = Vector.LoadUnsafe(ref rX, e) + Vector.LoadUnsafe(ref rH, e)
                    + (Vector.LoadUnsafe(ref rBi, bq) + Vector.LoadUnsafe(ref rBh, bq));
                TAct.Apply(a).StoreUnsafe(ref rHo, e);
            }

            for (; j < hidden; j++)
            {
                nuint e = e0 + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                T a = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, e), Unsafe.Add(ref rH, e)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq), Unsafe.Add(ref rBh, bq)));
                Unsafe.Add(ref rHo, e) = TAct.Apply(a);
            }
        }
    }

    /// <summary>Backward step over the vector blocks [v0, v1) of the flat elements (the last one may be partial).</summary>
    private static void RnnBackwardBlocks<TAct>(RnnBackwardArgs args, int v0, int v1)
        where TAct : IActivation
    {
        ref T rDy = ref CpuBuffer<T>.Ref(args.Dy);
        ref T rDh = ref CpuBuffer<T>.Ref(args.DhRec);
        ref T rH = ref CpuBuffer<T>.Ref(args.H);
        ref T rDg = ref CpuBuffer<T>.Ref(args.Dgates);
        int w = Vector<T>.Count;
        int end = (int)Math.Min((long)v1 * w, args.Count);
        int e = v0 * w;
        for (; e <= end - w; e += w)
        {
            nuint i = (nuint)e;
            var dh = Vector.LoadUnsafe(ref rDy, i) + Vector.LoadUnsafe(ref rDh, i);
            TAct.Backward(dh, Vector.LoadUnsafe(ref rH, i)).StoreUnsafe(ref rDg, i);
        }

        for (; e < end; e++)
        {
            T dh = Scalar<T>.Add(Unsafe.Add(ref rDy, e), Unsafe.Add(ref rDh, e));
            Unsafe.Add(ref rDg, e) = TAct.Backward(dh, Unsafe.Add(ref rH, e));
        }
    }
}
