namespace Lstm.Kernels.Tests;

/// <summary>The precise σ, tanh and exp every kernel uses, swept against System.Math.</summary>
public class NumOpsTests
{
    private static IEnumerable<double> Sweep()
    {
        for (double x = -100; x <= 100; x += 0.0137)
            yield return x;
        foreach (double x in new[] { 0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 87.0, -87.0, 88.7, -88.7, 200, -200, 800, -800 })
            yield return x;
    }

    [Fact]
    public void Float32_SigmoidAndTanh_WithinOneMillionthAbsolute()
    {
        var ops = default(F32Ops);
        double worstSigmoid = 0, worstTanh = 0;
        foreach (double x in Sweep())
        {
            float xf = (float)x;
            worstSigmoid = Math.Max(worstSigmoid, Math.Abs(ops.Sigmoid(xf) - 1.0 / (1.0 + Math.Exp(-(double)xf))));
            worstTanh = Math.Max(worstTanh, Math.Abs(ops.Tanh(xf) - Math.Tanh(xf)));
        }

        Assert.True(worstSigmoid < 2e-7, $"sigmoid max abs error {worstSigmoid:E2}");
        Assert.True(worstTanh < 2e-7, $"tanh max abs error {worstTanh:E2}");
    }

    [Fact]
    public void Float64_SigmoidAndTanh_WithinFloat64Rounding()
    {
        var ops = default(F64Ops);
        double worstSigmoid = 0, worstTanh = 0;
        foreach (double x in Sweep())
        {
            worstSigmoid = Math.Max(worstSigmoid, Math.Abs(ops.Sigmoid(x) - 1.0 / (1.0 + Math.Exp(-x))));
            worstTanh = Math.Max(worstTanh, Math.Abs(ops.Tanh(x) - Math.Tanh(x)));
        }

        Assert.True(worstSigmoid < 1e-15, $"sigmoid max abs error {worstSigmoid:E2}");
        Assert.True(worstTanh < 1e-15, $"tanh max abs error {worstTanh:E2}");
    }

    [Fact]
    public void ExpNonPositive_RelativeErrorSmall_AndUnderflowsToZero()
    {
        var f32 = default(F32Ops);
        var f64 = default(F64Ops);
        for (double x = -80; x <= 0; x += 0.01)
        {
            double e = Math.Exp(x);
            Assert.True(Math.Abs(f32.ExpNonPositive((float)x) - Math.Exp((float)x)) <= 3e-7 * e, $"float32 exp({x})");
            Assert.True(Math.Abs(f64.ExpNonPositive(x) - e) <= 4e-16 * e, $"float64 exp({x})");
        }

        Assert.Equal(0f, f32.ExpNonPositive(-1000f));
        Assert.Equal(0.0, f64.ExpNonPositive(-1000.0));
        Assert.Equal(1f, f32.ExpNonPositive(0f));
        Assert.Equal(1.0, f64.ExpNonPositive(0.0));
    }
}
