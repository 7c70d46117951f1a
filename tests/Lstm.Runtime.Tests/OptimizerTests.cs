using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>The optimizer classes, their saved state, gradient clipping and learning-rate schedules.</summary>
public class OptimizerTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    private static readonly int[][] Shapes = [[1], [3, 5], [33]];

    private static List<(string Name, Parameter<double> Parameter)> MakeParameters(ComputeDevice device, Random rng) =>
        Shapes.Select((s, i) =>
        {
            int n = s.Aggregate(1, (a, b) => a * b);
            return ($"layer.p{i}", new Parameter<double>($"p{i}", Tensor<double>.FromArray(device, Numerics.Uniform(rng, n), s)));
        }).ToList();

    private static void SetGradients(List<(string Name, Parameter<double> Parameter)> ps, Random rng)
    {
        foreach (var (_, p) in ps)
            p.Grad.CopyFrom(Numerics.Uniform(rng, (int)p.Grad.Length));
    }

    private static void Free(List<(string Name, Parameter<double> Parameter)> ps)
    {
        foreach (var (_, p) in ps)
            p.Dispose();
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdamW_WithSchedule_MatchesHostFormulaOverSteps(string device)
    {
        var dev = TestDevices.Get(device);
        var ps = MakeParameters(dev, new Random(1));
        try
        {
            var host = ps.Select(p => (P: p.Parameter.Value.ToArray(), M: new double[p.Parameter.Value.Length], V: new double[p.Parameter.Value.Length])).ToList();
            using var adam = Adam<double>.AdamW(ps, learningRate: 0.01, weightDecay: 0.1);
            var schedule = new WarmupSchedule(2, new CosineSchedule(0.01, 4));
            var rng = new Random(2);
            for (int step = 1; step <= 6; step++)
            {
                SetGradients(ps, rng);
                schedule.Apply(adam);
                double lr = adam.LearningRate;
                adam.Step();
                for (int i = 0; i < ps.Count; i++)
                {
                    OptimizerReference.AdamStep(host[i].P, ps[i].Parameter.Grad.ToArray(), host[i].M, host[i].V, step, lr, 0.9, 0.999, 1e-8, 0.1, decoupled: true);
                    Assert.True(Numerics.MaxAbsError(ps[i].Parameter.Value.ToArray(), host[i].P) < 1e-14, $"step {step} parameter {i}");
                }
            }

            Assert.Equal(6, adam.StepCount);
        }
        finally
        {
            Free(ps);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SgdNesterov_MatchesHostFormulaOverSteps(string device)
    {
        var dev = TestDevices.Get(device);
        var ps = MakeParameters(dev, new Random(3));
        try
        {
            var host = ps.Select(p => (P: p.Parameter.Value.ToArray(), B: new double[p.Parameter.Value.Length])).ToList();
            using var sgd = new Sgd<double>(ps, 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true);
            var rng = new Random(4);
            for (int step = 1; step <= 4; step++)
            {
                SetGradients(ps, rng);
                sgd.Step();
                for (int i = 0; i < ps.Count; i++)
                {
                    OptimizerReference.SgdStep(host[i].P, ps[i].Parameter.Grad.ToArray(), host[i].B, 0.1, 0.9, 0, 0.01, true, step == 1);
                    Assert.True(Numerics.MaxAbsError(ps[i].Parameter.Value.ToArray(), host[i].P) < 1e-14, $"step {step} parameter {i}");
                }
            }
        }
        finally
        {
            Free(ps);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Adam_SavedAndLoadedState_ResumesExactly(string device)
    {
        var dev = TestDevices.Get(device);
        var a = MakeParameters(dev, new Random(5));
        var b = MakeParameters(dev, new Random(5));
        string path = Path.Combine(Path.GetTempPath(), $"optim-{Guid.NewGuid():N}.safetensors");
        try
        {
            var gradients = new Random(6);
            var grads = Enumerable.Range(0, 5).Select(_ => a.Select(p => Numerics.Uniform(gradients, (int)p.Parameter.Grad.Length)).ToArray()).ToArray();
            using (var straight = new Adam<double>(a, 0.02, weightDecay: 0.01))
            {
                foreach (var g in grads)
                {
                    for (int i = 0; i < a.Count; i++)
                        a[i].Parameter.Grad.CopyFrom(g[i]);
                    straight.Step();
                }
            }

            using (var first = new Adam<double>(b, 0.02, weightDecay: 0.01))
            {
                foreach (var g in grads.Take(2))
                {
                    for (int i = 0; i < b.Count; i++)
                        b[i].Parameter.Grad.CopyFrom(g[i]);
                    first.Step();
                }

                first.SaveState(path);
            }

            var file = SafeTensorsFile.Read(path);
            Assert.Equal("adam", file.Metadata["optim.type"]);
            Assert.Equal("2", file.Metadata["optim.step"]);
            Assert.True(file.Contains("optim.layer.p1.exp_avg"));
            Assert.True(file.Contains("optim.layer.p1.exp_avg_sq"));
            using (var resumed = new Adam<double>(b, 0.02, weightDecay: 0.01))
            {
                resumed.LoadState(path);
                Assert.Equal(2, resumed.StepCount);
                foreach (var g in grads.Skip(2))
                {
                    for (int i = 0; i < b.Count; i++)
                        b[i].Parameter.Grad.CopyFrom(g[i]);
                    resumed.Step();
                }
            }

            for (int i = 0; i < a.Count; i++)
                Assert.Equal(a[i].Parameter.Value.ToArray(), b[i].Parameter.Value.ToArray());
        }
        finally
        {
            Free(a);
            Free(b);
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadState_OfAnotherOptimizer_ThrowsNamingBoth()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        var ps = MakeParameters(dev, new Random(7));
        try
        {
            using var sgd = new Sgd<double>(ps, 0.1, momentum: 0.9);
            SetGradients(ps, new Random(8));
            sgd.Step();
            var file = sgd.StateToFile();
            using var adam = new Adam<double>(ps);
            var e = Assert.Throws<LstmException>(() => adam.LoadState(file));
            Assert.Equal("optimizer state: optimizer state is for 'sgd', not 'adam'", e.Message);
        }
        finally
        {
            Free(ps);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ClipGradNorm_ScalesToMaxNorm_AsPyTorch(string device)
    {
        var dev = TestDevices.Get(device);
        var ps = MakeParameters(dev, new Random(9));
        try
        {
            SetGradients(ps, new Random(10));
            var before = ps.Select(p => p.Parameter.Grad.ToArray()).ToList();
            double norm = Math.Sqrt(before.Sum(g => g.Sum(v => v * v)));
            double got = GradientClipping.ClipGradNorm(ps.Select(p => p.Parameter), 0.5);
            Assert.Equal(norm, got, 1e-12);
            double coefficient = 0.5 / (norm + 1e-6);
            for (int i = 0; i < ps.Count; i++)
                Assert.True(Numerics.MaxAbsError(ps[i].Parameter.Grad.ToArray(), before[i].Select(v => v * coefficient).ToArray()) < 1e-15);

            // Below the limit nothing changes.
            var clipped = ps.Select(p => p.Parameter.Grad.ToArray()).ToList();
            GradientClipping.ClipGradNorm(ps.Select(p => p.Parameter), 10.0);
            for (int i = 0; i < ps.Count; i++)
                Assert.Equal(clipped[i], ps[i].Parameter.Grad.ToArray());
        }
        finally
        {
            Free(ps);
        }
    }

    [Fact]
    public void Schedules_FollowTheirClosedForms()
    {
        var constant = new ConstantSchedule(0.1);
        Assert.Equal(0.1, constant.At(0));
        Assert.Equal(0.1, constant.At(1000));

        var step = new StepSchedule(1.0, 3, 0.5);
        Assert.Equal([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25], Enumerable.Range(0, 7).Select(s => step.At(s)).ToArray());

        var cosine = new CosineSchedule(1.0, 4, 0.2);
        Assert.Equal(1.0, cosine.At(0), 1e-15);
        Assert.Equal(0.2 + 0.8 * (1 + Math.Cos(Math.PI / 4)) / 2, cosine.At(1), 1e-15);
        Assert.Equal(0.6, cosine.At(2), 1e-15);
        Assert.Equal(0.2, cosine.At(4), 1e-15);
        Assert.Equal(0.2, cosine.At(9), 1e-15);

        var warm = new WarmupSchedule(4, new StepSchedule(0.8, 2, 0.5), startFactor: 0.25);
        Assert.Equal([0.2, 0.35, 0.5, 0.65, 0.8, 0.8, 0.4], Enumerable.Range(0, 7).Select(s => Math.Round(warm.At(s), 12)).ToArray());

        Assert.Throws<LstmException>(() => new CosineSchedule(0.1, 0));
        Assert.Throws<LstmException>(() => new WarmupSchedule(2, constant, startFactor: 1.5));
        Assert.Throws<LstmException>(() => constant.At(-1));
    }
}
