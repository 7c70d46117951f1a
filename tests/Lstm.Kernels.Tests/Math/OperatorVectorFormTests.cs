using System.Numerics;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The vector forms of <see cref="SigmoidOperator"/>, <see cref="TanhOperator"/> and
/// <see cref="ExpNonPositiveOperator"/> (the <c>cpu</c> backend's): their accuracy, and that they
/// agree bit for bit with each other and with the scalar form the kernels use.
/// </summary>
public class OperatorVectorFormTests
{
    /// <summary>x from -100 to 100 in small steps, plus the ends of the float range and signed zeros.</summary>
    private static double[] Arguments()
    {
        var xs = new List<double> { 0.0, -0.0, 1e-30, -1e-30, 88, -88, 90, -90, 800, -800, float.MaxValue, float.MinValue };
        for (double x = -100; x <= 100; x += 0.0137)
            xs.Add(x);
        return [.. xs];
    }

    [Fact]
    public void SigmoidAndTanh_Float32_MatchFloat64Within2e7()
    {
        var xs = Arguments();
        double worstSigmoid = 0, worstTanh = 0;
        int w = Vector<float>.Count;
        var lanes = new float[w];
        for (int i = 0; i < xs.Length; i += w)
        {
            for (int l = 0; l < w; l++)
                lanes[l] = (float)xs[Math.Min(i + l, xs.Length - 1)];
            var v = new Vector<float>(lanes);
            var s = SigmoidOperator.Invoke(v);
            var t = TanhOperator.Invoke(v);
            for (int l = 0; l < w; l++)
            {
                double x = lanes[l];
                worstSigmoid = Math.Max(worstSigmoid, Math.Abs(s[l] - 1.0 / (1.0 + Math.Exp(-x))));
                worstTanh = Math.Max(worstTanh, Math.Abs(t[l] - Math.Tanh(x)));
            }
        }

        Assert.True(worstSigmoid <= 2e-7, $"float32 sigmoid: max |error| {worstSigmoid:E2}");
        Assert.True(worstTanh <= 2e-7, $"float32 tanh: max |error| {worstTanh:E2}");
    }

    [Fact]
    public void SigmoidTanhAndExp_Vector512Float32_EqualTheVectorTResultsBitForBit()
    {
        // The LSTM cell's AVX-512 loop and its Vector<T> loop (row tails, other machines) must agree exactly.
        var xs = Arguments();
        int w = Vector<float>.Count;
        var lanes = new float[16];
        for (int i = 0; i < xs.Length; i += 16)
        {
            for (int l = 0; l < 16; l++)
                lanes[l] = (float)xs[Math.Min(i + l, xs.Length - 1)];
            var v = System.Runtime.Intrinsics.Vector512.Create(lanes);
            var s = SigmoidOperator.Invoke(v);
            var t = TanhOperator.Invoke(v);
            var e = ExpNonPositiveOperator.Invoke(-System.Runtime.Intrinsics.Vector512.Abs(v));
            for (int l0 = 0; l0 < 16; l0 += w)
            {
                var part = new Vector<float>(lanes, l0);
                var sv = SigmoidOperator.Invoke(part);
                var tv = TanhOperator.Invoke(part);
                var ev = ExpNonPositiveOperator.Invoke(-Vector.Abs(part));
                for (int l = 0; l < w; l++)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(sv[l]), BitConverter.SingleToInt32Bits(s[l0 + l]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(tv[l]), BitConverter.SingleToInt32Bits(t[l0 + l]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(ev[l]), BitConverter.SingleToInt32Bits(e[l0 + l]));
                }
            }
        }
    }

    [Fact]
    public void SigmoidTanhAndExp_TwoRegistersAtOnce_EqualOneAtATimeBitForBit()
    {
        // The cell's AVX-512 loop takes two groups of 16 lanes at once, the last odd group alone.
        var xs = Arguments();
        var lanes = new float[32];
        for (int i = 0; i < xs.Length; i += 32)
        {
            for (int l = 0; l < 32; l++)
                lanes[l] = (float)xs[Math.Min(i + l, xs.Length - 1)];
            var v0 = System.Runtime.Intrinsics.Vector512.Create(lanes, 0);
            var v1 = System.Runtime.Intrinsics.Vector512.Create(lanes, 16);
            var (s0, s1) = (v0, v1);
            SigmoidOperator.Invoke(ref s0, ref s1);
            var (t0, t1) = (v0, v1);
            TanhOperator.Invoke(ref t0, ref t1);
            var (e0, e1) = (-System.Runtime.Intrinsics.Vector512.Abs(v0), -System.Runtime.Intrinsics.Vector512.Abs(v1));
            ExpNonPositiveOperator.Invoke(ref e0, ref e1);
            foreach (var (pair, single) in new[]
            {
                (s0, SigmoidOperator.Invoke(v0)), (s1, SigmoidOperator.Invoke(v1)),
                (t0, TanhOperator.Invoke(v0)), (t1, TanhOperator.Invoke(v1)),
                (e0, ExpNonPositiveOperator.Invoke(-System.Runtime.Intrinsics.Vector512.Abs(v0))),
                (e1, ExpNonPositiveOperator.Invoke(-System.Runtime.Intrinsics.Vector512.Abs(v1))),
            })
            {
                for (int l = 0; l < 16; l++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(single[l]), BitConverter.SingleToInt32Bits(pair[l]));
            }
        }
    }

    [Fact]
    public void SigmoidAndTanh_Float64_MatchFloat64Within1e15()
    {
        var xs = Arguments();
        double worstSigmoid = 0, worstTanh = 0;
        int w = Vector<double>.Count;
        var lanes = new double[w];
        for (int i = 0; i < xs.Length; i += w)
        {
            for (int l = 0; l < w; l++)
                lanes[l] = xs[Math.Min(i + l, xs.Length - 1)];
            var v = new Vector<double>(lanes);
            var s = SigmoidOperator.Invoke(v);
            var t = TanhOperator.Invoke(v);
            for (int l = 0; l < w; l++)
            {
                double x = lanes[l];
                worstSigmoid = Math.Max(worstSigmoid, Math.Abs(s[l] - 1.0 / (1.0 + Math.Exp(-x))));
                worstTanh = Math.Max(worstTanh, Math.Abs(t[l] - Math.Tanh(x)));
            }
        }

        Assert.True(worstSigmoid <= 1e-15, $"float64 sigmoid: max |error| {worstSigmoid:E2}");
        Assert.True(worstTanh <= 1e-15, $"float64 tanh: max |error| {worstTanh:E2}");
    }

    [Fact]
    public void SigmoidAndTanh_NaNStaysNaN_InfinitiesSaturate_InEveryVectorForm()
    {
        // The exponent's clamp uses the hardware min/max, which return one operand unchanged when
        // the other is NaN: the argument must be that operand, so NaN reaches the result as
        // PyTorch's σ and tanh give it.
        float[] xs = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f];
        float[] sigmoid = [float.NaN, 1f, 0f, 0.5f];
        float[] tanh = [float.NaN, 1f, -1f, 0f];
        void Expect(float want, float got, string what)
        {
            if (float.IsNaN(want))
                Assert.True(float.IsNaN(got), $"{what}: {got} where NaN was expected");
            else
                Assert.Equal(want, got);
        }

        for (int k = 0; k < xs.Length; k++)
        {
            var vf = new Vector<float>(xs[k]);
            var vd = new Vector<double>(xs[k]);
            var v5 = System.Runtime.Intrinsics.Vector512.Create(xs[k]);
            var (s0, s1) = (v5, v5);
            SigmoidOperator.Invoke(ref s0, ref s1);
            var (t0, t1) = (v5, v5);
            TanhOperator.Invoke(ref t0, ref t1);
            Expect(sigmoid[k], SigmoidOperator.Invoke(vf)[0], $"Vector<float> σ({xs[k]})");
            Expect(tanh[k], TanhOperator.Invoke(vf)[0], $"Vector<float> tanh({xs[k]})");
            Expect(sigmoid[k], (float)SigmoidOperator.Invoke(vd)[0], $"Vector<double> σ({xs[k]})");
            Expect(tanh[k], (float)TanhOperator.Invoke(vd)[0], $"Vector<double> tanh({xs[k]})");
            Expect(sigmoid[k], SigmoidOperator.Invoke(v5)[15], $"Vector512 σ({xs[k]})");
            Expect(tanh[k], TanhOperator.Invoke(v5)[15], $"Vector512 tanh({xs[k]})");
            Expect(sigmoid[k], s1[15], $"Vector512 pair σ({xs[k]})");
            Expect(tanh[k], t1[15], $"Vector512 pair tanh({xs[k]})");
        }
    }

    [Fact]
    public void ExpNonPositive_MatchesTheKernelsScalarMath_LaneByLane()
    {
        int w = Vector<float>.Count;
        var lanes = new float[w];
        var rng = new Random(8);
        for (int rep = 0; rep < 200; rep++)
        {
            for (int l = 0; l < w; l++)
                lanes[l] = (float)(-rng.NextDouble() * 100);
            var e = ExpNonPositiveOperator.Invoke(new Vector<float>(lanes));
            for (int l = 0; l < w; l++)
                Assert.Equal(default(F32Ops).ExpNonPositive(lanes[l]), e[l]);
        }
    }
}
