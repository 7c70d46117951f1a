using System.Numerics;
using System.Runtime.CompilerServices;
using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Cpu;

/// <summary>
/// Optimizer updates and the sums of squares of gradient clipping: the semantics of
/// <see cref="OptimizerKernels"/> element by element (unfused a·b + c, the same operation order),
/// <see cref="Vector{T}"/> lanes with scalar tails, large parameters split across cores.
/// </summary>
internal sealed partial class CpuOps<T>
{
    protected override void SgdUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T>? momentumBuffer,
        T lr, T momentum, T dampening, T weightDecay, bool nesterov, bool firstStep)
    {
        if (param.Length == 0)
            return;
        int n = (int)param.Length;
        var args = new SgdArgs(param, grad, momentumBuffer ?? param, momentumBuffer.HasValue, lr, momentum,
            Scalar<T>.Sub(Scalar<T>.FromDouble(1), dampening), weightDecay, nesterov, firstStep);
        ForBlocks(n, 8, args, static (a, i0, i1) => SgdRange(a, i0, i1));
    }

    protected override void AdamUpdateCore(
        BufferSlice<T> param, BufferSlice<T> grad, BufferSlice<T> expAvg, BufferSlice<T> expAvgSq,
        T stepSize, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T weightDecayL2, T decay, T bias2Sqrt)
    {
        if (param.Length == 0)
            return;
        var args = new AdamArgs(param, grad, expAvg, expAvgSq, stepSize, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecayL2, decay, bias2Sqrt);
        ForBlocks((int)param.Length, 24, args, static (a, i0, i1) => AdamRange(a, i0, i1));
    }

    protected override void SumSquaresCore(BufferSlice<T> x, BufferSlice<T> partials)
    {
        var acc = CpuBuffer<T>.Span(partials);
        acc.Clear();
        var xs = CpuBuffer<T>.Span(x);
        // partials[j] = x[j]² + x[j+P]² + …: each partial receives its terms in the kernel's order
        // (acc = x·x + acc), one contiguous stretch of P elements at a time.
        int parts = acc.Length;
        for (int start = 0; start < xs.Length; start += parts)
        {
            var row = xs.Slice(start, Math.Min(parts, xs.Length - start));
            var a = acc[..row.Length];
            int w = Vector<T>.Count;
            int j = 0;
            for (; j <= row.Length - w; j += w)
            {
                var v = new Vector<T>(row[j..]);
                (v * v + new Vector<T>(a[j..])).CopyTo(a[j..]);
            }

            for (; j < row.Length; j++)
                a[j] = Scalar<T>.Add(Scalar<T>.Mul(row[j], row[j]), a[j]);
        }
    }

    public override void Scale(T alpha, BufferSlice<T> x)
    {
        if (x.Length == 0)
            return;
        Scale(alpha, CpuBuffer<T>.Span(x));
    }

    /// <summary>
    /// Runs <paramref name="body"/> over [0, n) in ranges of whole vectors (only the last range has
    /// a scalar tail), on several cores when n · <paramref name="workPerElement"/> is large.
    /// </summary>
    private static void ForBlocks<TState>(int n, long workPerElement, TState state, Action<TState, int, int> body)
    {
        int w = Vector<T>.Count;
        int blocks = (n + w - 1) / w;
        int chunks = CpuParallel.Chunks(blocks, n * workPerElement);
        if (chunks <= 1)
        {
            body(state, 0, n);
            return;
        }

        CpuParallel.For(blocks, chunks, (State: state, Body: body, N: n), static (s, b0, b1) =>
            s.Body(s.State, b0 * Vector<T>.Count, (int)Math.Min((long)b1 * Vector<T>.Count, s.N)));
    }

    /// <summary>The SGD update's operands.</summary>
    /// <param name="Param">[n], updated.</param>
    /// <param name="Grad">[n].</param>
    /// <param name="Buf">[n] momentum buffer; read only when UseMomentum.</param>
    /// <param name="UseMomentum">A momentum buffer was given.</param>
    /// <param name="Lr">Learning rate.</param>
    /// <param name="Momentum">μ.</param>
    /// <param name="OneMinusDampening">1 − dampening in T.</param>
    /// <param name="WeightDecay">L2 weight decay.</param>
    /// <param name="Nesterov">Nesterov momentum.</param>
    /// <param name="First">The buffer's first update.</param>
    private readonly record struct SgdArgs(
        BufferSlice<T> Param, BufferSlice<T> Grad, BufferSlice<T> Buf, bool UseMomentum,
        T Lr, T Momentum, T OneMinusDampening, T WeightDecay, bool Nesterov, bool First);

    /// <summary>The Adam update's operands (see <see cref="AdamUpdateCore"/>).</summary>
    /// <param name="Param">[n], updated.</param>
    /// <param name="Grad">[n].</param>
    /// <param name="ExpAvg">[n], updated.</param>
    /// <param name="ExpAvgSq">[n], updated.</param>
    /// <param name="StepSize">lr / (1 − β1^t).</param>
    /// <param name="OneMinusBeta1">1 − β1.</param>
    /// <param name="Beta2">β2.</param>
    /// <param name="OneMinusBeta2">1 − β2.</param>
    /// <param name="Eps">ε.</param>
    /// <param name="WeightDecayL2">Adam's L2 decay.</param>
    /// <param name="Decay">AdamW's 1 − lr·wd.</param>
    /// <param name="Bias2Sqrt">√(1 − β2^t).</param>
    private readonly record struct AdamArgs(
        BufferSlice<T> Param, BufferSlice<T> Grad, BufferSlice<T> ExpAvg, BufferSlice<T> ExpAvgSq,
        T StepSize, T OneMinusBeta1, T Beta2, T OneMinusBeta2, T Eps, T WeightDecayL2, T Decay, T Bias2Sqrt);

    /// <summary>SGD over elements [i0, i1).</summary>
    private static void SgdRange(SgdArgs a, int i0, int i1)
    {
        ref T rP = ref CpuBuffer<T>.Ref(a.Param);
        ref T rG = ref CpuBuffer<T>.Ref(a.Grad);
        ref T rB = ref CpuBuffer<T>.Ref(a.Buf);
        int w = Vector<T>.Count;
        var lr = new Vector<T>(a.Lr);
        var mu = new Vector<T>(a.Momentum);
        var od = new Vector<T>(a.OneMinusDampening);
        var wd = new Vector<T>(a.WeightDecay);
        int e = i0;
        for (; e <= i1 - w; e += w)
        {
            nuint i = (nuint)e;
            var p = Vector.LoadUnsafe(ref rP, i);
            var g = wd * p + Vector.LoadUnsafe(ref rG, i);
            if (a.UseMomentum)
            {
                var b = a.First ? g : mu * Vector.LoadUnsafe(ref rB, i) + od * g;
                b.StoreUnsafe(ref rB, i);
                g = a.Nesterov ? mu * b + g : b;
            }

            (p - lr * g).StoreUnsafe(ref rP, i);
        }

        for (; e < i1; e++)
        {
            T p = Unsafe.Add(ref rP, e);
            T g = Scalar<T>.Add(Scalar<T>.Mul(a.WeightDecay, p), Unsafe.Add(ref rG, e));
            if (a.UseMomentum)
            {
                T b = a.First ? g : Scalar<T>.Add(Scalar<T>.Mul(a.Momentum, Unsafe.Add(ref rB, e)), Scalar<T>.Mul(a.OneMinusDampening, g));
                Unsafe.Add(ref rB, e) = b;
                g = a.Nesterov ? Scalar<T>.Add(Scalar<T>.Mul(a.Momentum, b), g) : b;
            }

            Unsafe.Add(ref rP, e) = Scalar<T>.Sub(p, Scalar<T>.Mul(a.Lr, g));
        }
    }

    /// <summary>Adam over elements [i0, i1).</summary>
    private static void AdamRange(AdamArgs a, int i0, int i1)
    {
        ref T rP = ref CpuBuffer<T>.Ref(a.Param);
        ref T rG = ref CpuBuffer<T>.Ref(a.Grad);
        ref T rM = ref CpuBuffer<T>.Ref(a.ExpAvg);
        ref T rV = ref CpuBuffer<T>.Ref(a.ExpAvgSq);
        int w = Vector<T>.Count;
        var step = new Vector<T>(a.StepSize);
        var omb1 = new Vector<T>(a.OneMinusBeta1);
        var b2 = new Vector<T>(a.Beta2);
        var omb2 = new Vector<T>(a.OneMinusBeta2);
        var eps = new Vector<T>(a.Eps);
        var wd = new Vector<T>(a.WeightDecayL2);
        var decay = new Vector<T>(a.Decay);
        var bias2 = new Vector<T>(a.Bias2Sqrt);
        int e = i0;
        for (; e <= i1 - w; e += w)
        {
            nuint i = (nuint)e;
            var p0 = Vector.LoadUnsafe(ref rP, i);
            var m0 = Vector.LoadUnsafe(ref rM, i);
            var p = decay * p0;
            var g = wd * p0 + Vector.LoadUnsafe(ref rG, i);
            var m = omb1 * (g - m0) + m0;
            var v = omb2 * (g * g) + b2 * Vector.LoadUnsafe(ref rV, i);
            m.StoreUnsafe(ref rM, i);
            v.StoreUnsafe(ref rV, i);
            // √ correctly rounded in T: the kernel's float64 root rounded to T is the same number.
            var denom = Vector.SquareRoot(v) / bias2 + eps;
            (p - step * (m / denom)).StoreUnsafe(ref rP, i);
        }

        for (; e < i1; e++)
        {
            T p0 = Unsafe.Add(ref rP, e);
            T m0 = Unsafe.Add(ref rM, e);
            T p = Scalar<T>.Mul(a.Decay, p0);
            T g = Scalar<T>.Add(Scalar<T>.Mul(a.WeightDecayL2, p0), Unsafe.Add(ref rG, e));
            T m = Scalar<T>.Add(Scalar<T>.Mul(a.OneMinusBeta1, Scalar<T>.Sub(g, m0)), m0);
            T v = Scalar<T>.Add(Scalar<T>.Mul(a.OneMinusBeta2, Scalar<T>.Mul(g, g)), Scalar<T>.Mul(a.Beta2, Unsafe.Add(ref rV, e)));
            Unsafe.Add(ref rM, e) = m;
            Unsafe.Add(ref rV, e) = v;
            T root = Scalar<T>.FromDouble(Math.Sqrt(Scalar<T>.ToDouble(v)));
            T denom = Scalar<T>.Add(Div(root, a.Bias2Sqrt), a.Eps);
            Unsafe.Add(ref rP, e) = Scalar<T>.Sub(p, Scalar<T>.Mul(a.StepSize, Div(m, denom)));
        }
    }

    /// <summary>a / b in T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Div(T a, T b) => typeof(T) == typeof(float)
        ? (T)(object)((float)(object)a / (float)(object)b)
        : (T)(object)((double)(object)a / (double)(object)b);
}
