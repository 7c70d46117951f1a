using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>The fused optimizer updates and the clipping reduction against float64 host formulas, over several steps.</summary>
public class OptimizerKernelTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    // 1, odd, and not multiples of 32 (a warp) or of the CPU accelerator's group, so kernels loop.
    private static readonly int[] Lengths = [1, 7, 33, 161];

    [Theory]
    [MemberData(nameof(Devices))]
    public void SgdUpdate_MatchesHostFormula_OverSteps_Float32(string device) => Sgd<float>(device, 2e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void SgdUpdate_MatchesHostFormula_OverSteps_Float64(string device) => Sgd<double>(device, 1e-14);

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdamUpdate_MatchesHostFormula_OverSteps_Float32(string device) => Adam<float>(device, 2e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdamUpdate_MatchesHostFormula_OverSteps_Float64(string device) => Adam<double>(device, 1e-14);

    private void Sgd<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(5);
        double worst = 0;
        var settings = new (double Momentum, double Dampening, double Wd, bool Nesterov)[]
        {
            (0, 0, 0, false), (0, 0, 0.01, false), (0.9, 0, 0, false), (0.9, 0.1, 0.01, false), (0.8, 0, 0.05, true),
        };
        foreach (int n in Lengths)
        {
            foreach (var s in settings)
            {
                var p = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
                var buf = new double[n];
                using var dp = DeviceData.Upload(ops, p);
                using var dg = ops.Allocate(n);
                using var db = ops.Allocate(n);
                for (int step = 1; step <= 4; step++)
                {
                    var g = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
                    ops.Upload(DeviceData.Convert<T>(g), dg.All);
                    double lr = 0.05 * step;
                    OptimizerReference.SgdStep(p, g, buf, lr, s.Momentum, s.Dampening, s.Wd, s.Nesterov, step == 1);
                    ops.SgdUpdate(
                        dp.All, dg.All, s.Momentum != 0 ? db.All : null, DeviceData.From<T>(lr), DeviceData.From<T>(s.Momentum),
                        DeviceData.From<T>(s.Dampening), DeviceData.From<T>(s.Wd), s.Nesterov, step == 1);
                    double err = Numerics.MaxAbsError(DeviceData.Download(ops, dp), p);
                    Assert.True(err < tolerance, $"n={n} {s} step {step}: parameter error {err:e2}");
                    worst = Math.Max(worst, err);
                    if (s.Momentum != 0)
                    {
                        double berr = Numerics.MaxAbsError(DeviceData.Download(ops, db), buf);
                        Assert.True(berr < tolerance, $"n={n} {s} step {step}: buffer error {berr:e2}");
                    }
                }
            }
        }

        output.WriteLine($"SGD {typeof(T).Name}: worst parameter error {worst:e2}");
    }

    private void Adam<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(6);
        double worst = 0;
        var settings = new (double Lr, double Beta1, double Beta2, double Eps, double Wd, bool Decoupled)[]
        {
            (1e-3, 0.9, 0.999, 1e-8, 0, false), (1e-2, 0.8, 0.99, 1e-6, 0.1, false), (1e-2, 0.9, 0.999, 1e-8, 0.05, true),
        };
        foreach (int n in Lengths)
        {
            foreach (var s in settings)
            {
                var p = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
                var m = new double[n];
                var v = new double[n];
                using var dp = DeviceData.Upload(ops, p);
                using var dg = ops.Allocate(n);
                using var dm = ops.Allocate(n);
                using var dv = ops.Allocate(n);
                for (int step = 1; step <= 5; step++)
                {
                    var g = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
                    ops.Upload(DeviceData.Convert<T>(g), dg.All);
                    OptimizerReference.AdamStep(p, g, m, v, step, s.Lr, s.Beta1, s.Beta2, s.Eps, s.Wd, s.Decoupled);
                    double bias1 = 1 - Math.Pow(s.Beta1, step);
                    double bias2 = 1 - Math.Pow(s.Beta2, step);
                    ops.AdamUpdate(
                        dp.All, dg.All, dm.All, dv.All, DeviceData.From<T>(s.Lr / bias1), DeviceData.From<T>(1 - s.Beta1),
                        DeviceData.From<T>(s.Beta2), DeviceData.From<T>(1 - s.Beta2), DeviceData.From<T>(s.Eps), DeviceData.From<T>(s.Decoupled ? 0 : s.Wd),
                        DeviceData.From<T>(s.Decoupled ? 1 - s.Lr * s.Wd : 1), DeviceData.From<T>(Math.Sqrt(bias2)));
                    double err = Numerics.MaxAbsError(DeviceData.Download(ops, dp), p);
                    Assert.True(err < tolerance, $"n={n} {s} step {step}: parameter error {err:e2}");
                    worst = Math.Max(worst, err);
                    Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dm), m) < tolerance, $"n={n} {s} step {step}: exp_avg");
                    Assert.True(Numerics.MaxRelativeToLargest(DeviceData.Download(ops, dv), v) < tolerance, $"n={n} {s} step {step}: exp_avg_sq");
                }
            }
        }

        output.WriteLine($"Adam {typeof(T).Name}: worst parameter error {worst:e2}");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdamUpdate_FirstStep_MovesEachWeightByLrTimesSignOfGradient(string device)
    {
        // Step 1 with bias correction: m̂ = g, v̂ = g², so p1 = p0 - lr·g / (|g| + ε).
        var ops = TestDevices.Get(device).Ops<double>();
        double[] p = [0.5, -1.0, 2.0];
        double[] g = [0.25, -3.0, 1e-3];
        using var dp = DeviceData.Upload(ops, p);
        using var dg = DeviceData.Upload(ops, g);
        using var dm = ops.Allocate(3);
        using var dv = ops.Allocate(3);
        double lr = 0.1;
        double eps = 1e-8;
        ops.AdamUpdate(dp.All, dg.All, dm.All, dv.All, lr / (1 - 0.9), 1 - 0.9, 0.999, 1 - 0.999, eps, 0, 1, Math.Sqrt(1 - 0.999));
        var got = DeviceData.Download(ops, dp);
        for (int i = 0; i < 3; i++)
            Assert.Equal(p[i] - lr * g[i] / (Math.Abs(g[i]) + eps), got[i], 1e-14);
        Assert.Equal(0.5 - 0.1 * 0.25 / (0.25 + 1e-8), got[0], 1e-15);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SumSquaresAndScale_MatchHostFormula(string device)
    {
        var ops = TestDevices.Get(device).Ops<float>();
        var rng = new Random(7);
        foreach (int n in new[] { 0, 1, 7, 33, 161, 1000 })
        {
            foreach (int parts in new[] { 1, 5, 64 })
            {
                var x = DeviceData.AsSeen<float>(Numerics.Uniform(rng, n, 3.0));
                using var dx = DeviceData.Upload(ops, x);
                using var dp = ops.Allocate(parts);
                ops.SumSquares(dx.All, dp.All);
                double got = DeviceData.Download(ops, dp).Sum();
                double expected = x.Sum(v => v * v);
                Assert.True(Math.Abs(got - expected) <= 1e-6 * Math.Max(1, expected), $"n={n} parts={parts}: {got} vs {expected}");
            }

            var y = DeviceData.AsSeen<float>(Numerics.Uniform(rng, n));
            using var dy = DeviceData.Upload(ops, y);
            ops.Scale(-0.375f, dy.All);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dy), y.Select(v => -0.375 * v).ToArray()) < 1e-7);
        }
    }
}
