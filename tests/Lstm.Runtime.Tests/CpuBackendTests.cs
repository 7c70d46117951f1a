using System.Numerics;
using Lstm.Kernels;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Cpu;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>The host backend's vectorized math and its promise not to allocate in the time loop.</summary>
public class CpuBackendTests
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
            var s = HostMath.Sigmoid(v);
            var t = HostMath.Tanh(v);
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
            var s = HostMath.Sigmoid(v);
            var t = HostMath.Tanh(v);
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
    public void ExpNonPositive_MatchesTheKernelsScalarMath_LaneByLane()
    {
        int w = Vector<float>.Count;
        var lanes = new float[w];
        var rng = new Random(8);
        for (int rep = 0; rep < 200; rep++)
        {
            for (int l = 0; l < w; l++)
                lanes[l] = (float)(-rng.NextDouble() * 100);
            var e = HostMath.ExpNonPositive(new Vector<float>(lanes));
            for (int l = 0; l < w; l++)
                Assert.Equal(default(F32Ops).ExpNonPositive(lanes[l]), e[l]);
        }
    }

    [Fact]
    public void TimeStepOperations_AtTheSeedsShapes_AllocateNothing()
    {
        using var device = ComputeDevice.Open(ComputeDevice.CpuName);
        var ops = device.Ops<float>();
        const int batch = 5, hidden = 20, g = 4 * hidden;
        using var h = ops.Allocate(batch * hidden);
        using var w = ops.Allocate(g * hidden);
        using var xproj = ops.Allocate(batch * g);
        using var hproj = ops.Allocate(batch * g);
        using var bias = ops.Allocate(g);
        using var c = ops.Allocate(batch * hidden);
        using var acts = ops.Allocate(batch * g);
        using var dgates = ops.Allocate(batch * g);
        var recurrent = GemmShape.Dense(batch, g, hidden, false, true);
        var dh = GemmShape.Dense(batch, hidden, g, false, false);
        void Step()
        {
            ops.Gemm(recurrent, 1f, h.All, w.All, 0f, hproj.All);
            ops.LstmCellForward(batch, hidden, xproj.All, hproj.All, bias.All, bias.All, c.All, c.All, h.All, acts.All);
            ops.LstmCellBackward(batch, hidden, h.All, h.All, c.All, acts.All, c.All, c.All, dgates.All);
            ops.Gemm(dh, 1f, dgates.All, w.All, 0f, h.All);
            ops.SumRows(batch, g, dgates.All, 1f, bias.All);
            ops.Axpy(-0.01f, bias.All, bias.All);
        }

        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
