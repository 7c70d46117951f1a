using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lstm.Kernels;
using Lstm.Kernels.Cells;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// The fused GRU cell, forward (training and inference variants) and backward: the semantics of
/// <see cref="GruCellKernels"/> (gate order r, z, n; acts rows r, z, n, hn), row by row of the
/// batch, <see cref="Vector{T}"/> lanes over the hidden units and the kernels' scalar math for the
/// tail of each row. Large batches are split by rows across cores (<see cref="CpuParallel"/>).
/// </summary>
internal sealed partial class CpuOps<T>
{
    /// <summary>Element operations one hidden unit of a GRU step costs, for <see cref="CpuParallel.Chunks"/>.</summary>
    private const long GruWorkPerElement = 64;

    protected override void GruCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        bool hasBias = biasIh.HasValue && biasHh.HasValue;
        int chunks = CpuParallel.Chunks(batch, n * GruWorkPerElement);
        if (acts is { } store)
        {
            var args = new GruForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, hPrev, h, store);
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => GruForwardRows<Training>(a, b0, b1));
        }
        else
        {
            var args = new GruForwardArgs(hidden, xproj, hproj, biasIh ?? xproj, biasHh ?? xproj, hasBias, hPrev, h, xproj);
            CpuParallel.For(batch, chunks, args, static (a, b0, b1) => GruForwardRows<Inference>(a, b0, b1));
        }
    }

    protected override void GruCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev)
    {
        long n = (long)batch * hidden;
        if (n == 0)
            return;
        var args = new GruBackwardArgs(hidden, dy, dhRec, acts, hPrev, dgatesX, dgatesH, dhPrev);
        CpuParallel.For(batch, CpuParallel.Chunks(batch, n * GruWorkPerElement), args, static (a, b0, b1) => GruBackwardRows(a, b0, b1));
    }

    /// <summary>The forward step's operands, handed to each chunk of rows without a closure.</summary>
    /// <param name="Hidden">H.</param>
    /// <param name="Xproj">[B, 3H].</param>
    /// <param name="Hproj">[B, 3H].</param>
    /// <param name="BiasIh">[3H]; read only when HasBias.</param>
    /// <param name="BiasHh">[3H]; read only when HasBias.</param>
    /// <param name="HasBias">False for bias=False.</param>
    /// <param name="HPrev">[B, H].</param>
    /// <param name="H">[B, H]; may be HPrev.</param>
    /// <param name="Acts">[B, 4H]; written only by the training variant.</param>
    private readonly record struct GruForwardArgs(
        int Hidden, BufferSlice<T> Xproj, BufferSlice<T> Hproj, BufferSlice<T> BiasIh, BufferSlice<T> BiasHh, bool HasBias,
        BufferSlice<T> HPrev, BufferSlice<T> H, BufferSlice<T> Acts);

    /// <summary>The backward step's operands.</summary>
    /// <param name="Hidden">H.</param>
    /// <param name="Dy">[B, H].</param>
    /// <param name="DhRec">[B, H].</param>
    /// <param name="Acts">[B, 4H].</param>
    /// <param name="HPrev">[B, H].</param>
    /// <param name="DgatesX">[B, 3H] out.</param>
    /// <param name="DgatesH">[B, 3H] out.</param>
    /// <param name="DhPrev">[B, H] out; may be Dy or DhRec.</param>
    private readonly record struct GruBackwardArgs(
        int Hidden, BufferSlice<T> Dy, BufferSlice<T> DhRec, BufferSlice<T> Acts, BufferSlice<T> HPrev,
        BufferSlice<T> DgatesX, BufferSlice<T> DgatesH, BufferSlice<T> DhPrev);

    /// <summary>Forward step over batch rows [b0, b1).</summary>
    private static void GruForwardRows<TVariant>(GruForwardArgs args, int b0, int b1)
        where TVariant : IVariant
    {
        int hidden = args.Hidden;
        ref T rX = ref CpuBuffer<T>.Ref(args.Xproj);
        ref T rH = ref CpuBuffer<T>.Ref(args.Hproj);
        ref T rHp = ref CpuBuffer<T>.Ref(args.HPrev);
        ref T rHo = ref CpuBuffer<T>.Ref(args.H);
        ref T rA = ref CpuBuffer<T>.Ref(args.Acts);
        // bias=False reads zeros: one short run of them stands in for both bias rows.
        Span<T> zeros = stackalloc T[args.HasBias ? 0 : 3 * Vector<T>.Count];
        ref T rBi = ref args.HasBias ? ref CpuBuffer<T>.Ref(args.BiasIh) : ref MemoryMarshal.GetReference(zeros);
        ref T rBh = ref args.HasBias ? ref CpuBuffer<T>.Ref(args.BiasHh) : ref MemoryMarshal.GetReference(zeros);
        nuint biasStride = args.HasBias ? 1u : 0u;
        nuint hh = (nuint)hidden;
        nuint bh = hh * biasStride;
        int w = Vector<T>.Count;
        for (int b = b0; b < b1; b++)
        {
            nuint e0 = (nuint)b * hh;
            nuint row = 3 * e0;
            nuint arow = 4 * e0;
            int j = 0;
            for (; j <= hidden - w; j += w)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                var ar = Vector.LoadUnsafe(ref rX, q) + Vector.LoadUnsafe(ref rH, q)
                    + (Vector.LoadUnsafe(ref rBi, bq) + Vector.LoadUnsafe(ref rBh, bq));
                var az = Vector.LoadUnsafe(ref rX, q + hh) + Vector.LoadUnsafe(ref rH, q + hh)
                    + (Vector.LoadUnsafe(ref rBi, bq + bh) + Vector.LoadUnsafe(ref rBh, bq + bh));
                var xn = Vector.LoadUnsafe(ref rX, q + 2 * hh) + Vector.LoadUnsafe(ref rBi, bq + 2 * bh);
                var hn = Vector.LoadUnsafe(ref rH, q + 2 * hh) + Vector.LoadUnsafe(ref rBh, bq + 2 * bh);
                var r = SigmoidOperator.Invoke(ar);
                var z = SigmoidOperator.Invoke(az);
                var nv = TanhOperator.Invoke(r * hn + xn);
                // (1 − z)·n + z·h_{t-1} = n + z·(h_{t-1} − n), as the kernel computes it.
                (z * (Vector.LoadUnsafe(ref rHp, e) - nv) + nv).StoreUnsafe(ref rHo, e);
                if (TVariant.StoresActivations)
                {
                    nuint a = arow + (nuint)j;
                    r.StoreUnsafe(ref rA, a);
                    z.StoreUnsafe(ref rA, a + hh);
                    nv.StoreUnsafe(ref rA, a + 2 * hh);
                    hn.StoreUnsafe(ref rA, a + 3 * hh);
                }
            }

            for (; j < hidden; j++)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint bq = (nuint)j * biasStride;
                T ar = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q), Unsafe.Add(ref rH, q)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq), Unsafe.Add(ref rBh, bq)));
                T az = Scalar<T>.Add(Scalar<T>.Add(Unsafe.Add(ref rX, q + hh), Unsafe.Add(ref rH, q + hh)), Scalar<T>.Add(Unsafe.Add(ref rBi, bq + bh), Unsafe.Add(ref rBh, bq + bh)));
                T xn = Scalar<T>.Add(Unsafe.Add(ref rX, q + 2 * hh), Unsafe.Add(ref rBi, bq + 2 * bh));
                T hn = Scalar<T>.Add(Unsafe.Add(ref rH, q + 2 * hh), Unsafe.Add(ref rBh, bq + 2 * bh));
                T r = Sigmoid(ar);
                T z = Sigmoid(az);
                T nv = Tanh(Scalar<T>.Add(Scalar<T>.Mul(r, hn), xn));
                Unsafe.Add(ref rHo, e) = Scalar<T>.Add(Scalar<T>.Mul(z, Scalar<T>.Sub(Unsafe.Add(ref rHp, e), nv)), nv);
                if (TVariant.StoresActivations)
                {
                    nuint a = arow + (nuint)j;
                    Unsafe.Add(ref rA, a) = r;
                    Unsafe.Add(ref rA, a + hh) = z;
                    Unsafe.Add(ref rA, a + 2 * hh) = nv;
                    Unsafe.Add(ref rA, a + 3 * hh) = hn;
                }
            }
        }
    }

    /// <summary>Backward step over batch rows [b0, b1).</summary>
    private static void GruBackwardRows(GruBackwardArgs args, int b0, int b1)
    {
        int hidden = args.Hidden;
        ref T rDy = ref CpuBuffer<T>.Ref(args.Dy);
        ref T rDh = ref CpuBuffer<T>.Ref(args.DhRec);
        ref T rA = ref CpuBuffer<T>.Ref(args.Acts);
        ref T rHp = ref CpuBuffer<T>.Ref(args.HPrev);
        ref T rDx = ref CpuBuffer<T>.Ref(args.DgatesX);
        ref T rDhg = ref CpuBuffer<T>.Ref(args.DgatesH);
        ref T rDp = ref CpuBuffer<T>.Ref(args.DhPrev);
        nuint hh = (nuint)hidden;
        int w = Vector<T>.Count;
        var one = Vector<T>.One;
        T oneS = Scalar<T>.FromDouble(1);
        for (int b = b0; b < b1; b++)
        {
            nuint e0 = (nuint)b * hh;
            nuint row = 3 * e0;
            nuint arow = 4 * e0;
            int j = 0;
            for (; j <= hidden - w; j += w)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint a = arow + (nuint)j;
                var r = Vector.LoadUnsafe(ref rA, a);
                var z = Vector.LoadUnsafe(ref rA, a + hh);
                var nv = Vector.LoadUnsafe(ref rA, a + 2 * hh);
                var hn = Vector.LoadUnsafe(ref rA, a + 3 * hh);
                var dh = Vector.LoadUnsafe(ref rDy, e) + Vector.LoadUnsafe(ref rDh, e);
                var dn = dh * (one - z);
                var dz = dh * (Vector.LoadUnsafe(ref rHp, e) - nv);
                var dnp = dn * (one - nv * nv);
                var dar = dnp * hn * (r * (one - r));
                var daz = dz * (z * (one - z));
                dar.StoreUnsafe(ref rDx, q);
                daz.StoreUnsafe(ref rDx, q + hh);
                dnp.StoreUnsafe(ref rDx, q + 2 * hh);
                dar.StoreUnsafe(ref rDhg, q);
                daz.StoreUnsafe(ref rDhg, q + hh);
                (dnp * r).StoreUnsafe(ref rDhg, q + 2 * hh);
                (dh * z).StoreUnsafe(ref rDp, e);
            }

            for (; j < hidden; j++)
            {
                nuint e = e0 + (nuint)j;
                nuint q = row + (nuint)j;
                nuint a = arow + (nuint)j;
                T r = Unsafe.Add(ref rA, a);
                T z = Unsafe.Add(ref rA, a + hh);
                T nv = Unsafe.Add(ref rA, a + 2 * hh);
                T hn = Unsafe.Add(ref rA, a + 3 * hh);
                T dh = Scalar<T>.Add(Unsafe.Add(ref rDy, e), Unsafe.Add(ref rDh, e));
                T dn = Scalar<T>.Mul(dh, Scalar<T>.Sub(oneS, z));
                T dz = Scalar<T>.Mul(dh, Scalar<T>.Sub(Unsafe.Add(ref rHp, e), nv));
                T dnp = Scalar<T>.Mul(dn, Scalar<T>.Sub(oneS, Scalar<T>.Mul(nv, nv)));
                T dar = Scalar<T>.Mul(Scalar<T>.Mul(dnp, hn), Scalar<T>.Mul(r, Scalar<T>.Sub(oneS, r)));
                T daz = Scalar<T>.Mul(dz, Scalar<T>.Mul(z, Scalar<T>.Sub(oneS, z)));
                Unsafe.Add(ref rDx, q) = dar;
                Unsafe.Add(ref rDx, q + hh) = daz;
                Unsafe.Add(ref rDx, q + 2 * hh) = dnp;
                Unsafe.Add(ref rDhg, q) = dar;
                Unsafe.Add(ref rDhg, q + hh) = daz;
                Unsafe.Add(ref rDhg, q + 2 * hh) = Scalar<T>.Mul(dnp, r);
                Unsafe.Add(ref rDp, e) = Scalar<T>.Mul(dh, z);
            }
        }
    }
}
