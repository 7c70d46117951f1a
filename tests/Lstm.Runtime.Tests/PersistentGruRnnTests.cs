using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Tests;

/// <summary>
/// On an ILGPU device a GRU or RNN direction's forward and backward loops run as one persistent launch
/// each (<see cref="PersistentLaunches"/>, counted with the LSTM's) where every group of its grid is
/// resident: here ILGPU's CPU accelerator with four multiprocessors and odd H. The inference and
/// training outputs, h_n, dx, dh0 and every parameter gradient equal the step loop's bit for bit, in
/// one and two directions and stacked layers; a time-out falls back to the step loop, still exact;
/// in float64 the persistent gradients agree with central finite differences.
/// </summary>
public sealed class PersistentGruRnnTests
{
    private readonly ComputeDevice _device = PersistentTestDevice.Get();

    [Theory]
    [InlineData("gru", 1, true, true, 37)]
    [InlineData("gru", 3, false, false, 37)]
    [InlineData("gru", 2, true, true, 13)]
    [InlineData("tanh", 2, true, true, 37)]
    [InlineData("tanh", 3, false, false, 13)]
    [InlineData("relu", 3, false, true, 37)]
    [InlineData("relu", 1, true, false, 13)]
    public void PersistentLoops_EqualStepLoop_Bitwise(string cell, int batch, bool bidirectional, bool bias, int hidden)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(cell, batch, bidirectional, bias, wholeLoops: false, hidden);
        Assert.Equal(runs, launches.Runs);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        var persistent = Run(cell, batch, bidirectional, bias, wholeLoops: true, hidden);
        // Two forwards (inference, training) and one backward a direction.
        int dirs = bidirectional ? 2 : 1;
        Assert.Equal(runs + 2 * dirs, launches.Runs);
        Assert.Equal(backwardRuns + dirs, launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"{cell} B={batch} H={hidden} bidirectional={bidirectional} on ilgpu-cpu", "persistent", "step by step");
    }

    [Theory]
    [InlineData("gru", false)]
    [InlineData("tanh", true)]
    [InlineData("relu", false)]
    public void StackedLayers_TakeThePersistentLoops_Bitwise(string cell, bool bidirectional)
    {
        const int layers = 2;
        var launches = PersistentLaunches.For(_device.Accelerator);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(cell, 2, bidirectional, true, wholeLoops: false, 37, layers);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        // Left at its default the wavefront is on for one direction here, yet every layer fits the
        // grid, so both passes run the layers one after the other as persistent launches.
        var persistent = Run(cell, 2, bidirectional, true, wholeLoops: true, 37, layers);
        int dirs = bidirectional ? 2 : 1;
        Assert.Equal(runs + 2 * layers * dirs, launches.Runs);
        Assert.Equal(backwardRuns + layers * dirs, launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"2-layer {cell} B=2 H=37 bidirectional={bidirectional} with dropout on ilgpu-cpu", "persistent", "step by step");
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("tanh")]
    [InlineData("relu")]
    public void LostGroup_TimesOut_AndTheStepLoopGivesTheSameResult(string cell)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var steps = Run(cell, 3, true, true, wholeLoops: false);
        long timeouts = launches.Timeouts, runs = launches.Runs;
        long backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        launches.SkipGroup = 2;
        launches.SpinLimit = 1 << 16;
        try
        {
            var fallen = Run(cell, 3, true, true, wholeLoops: true);
            Assert.Equal(timeouts + 4, launches.Timeouts);
            Assert.Equal(runs, launches.Runs);
            Assert.Equal(backwardTimeouts + 2, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, $"{cell} after a persistent time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("relu")]
    public void BackwardAlone_TimesOut_PutsDhBack_AndTheStepLoopGivesTheSameResult(string cell)
    {
        // The forwards run whole; only the backward's grid loses a group, after the others began
        // to update dh in place (the GRU writes dh ⊙ z before the barrier).
        var launches = PersistentLaunches.For(_device.Accelerator);
        var steps = Run(cell, 2, false, true, wholeLoops: false);
        long runs = launches.Runs, backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        try
        {
            var fallen = Run(cell, 2, false, true, wholeLoops: true, beforeBackward: () =>
            {
                launches.SkipGroup = 1;
                launches.SpinLimit = 1 << 16;
            });
            Assert.Equal(runs + 2, launches.Runs);
            Assert.Equal(backwardTimeouts + 1, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, $"{cell} after a backward time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    [Theory]
    [InlineData("gru", 2, false)]
    [InlineData("tanh", 1, true)]
    [InlineData("relu", 1, true)]
    public void PersistentBackward_Float64_MatchesCentralFiniteDifferences(string cell, int layers, bool bidirectional)
    {
        // loss = Σ output·dy + Σ h_n·dhn; entries of x, h0 and every parameter perturbed by ±1e-6. The
        // gradients come from the persistent loops; the perturbed losses from the step loop, whose
        // forward values the persistent one equals bit for bit (above), so the check runs in seconds.
        const int input = 3, hidden = 7, steps = 4, batch = 2;
        const double eps = 1e-6;
        int dirs = bidirectional ? 2 : 1, ld = layers * dirs;
        var launches = PersistentLaunches.For(_device.Accelerator);
        using RecurrentLayer<double> layer = cell == "gru"
            ? new GRU<double>(_device, new GRUOptions(input, hidden, layers, Bidirectional: bidirectional), seed: 7)
            : new RNN<double>(_device, new RNNOptions(input, hidden, layers, cell == "relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh,
                Bidirectional: bidirectional), seed: 7);
        var rng = new Random(41);
        var x = Enumerable.Range(0, steps * batch * input).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var h0 = Enumerable.Range(0, ld * batch * hidden).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var dy = Enumerable.Range(0, steps * batch * dirs * hidden).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var dhn = Enumerable.Range(0, ld * batch * hidden).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

        double Loss()
        {
            using var tx = Tensor<double>.FromArray(_device, x, steps, batch, input);
            using var th = Tensor<double>.FromArray(_device, h0, ld, batch, hidden);
            using var r = layer.Forward(tx, th, training: false);
            return Dot(r.Output.ToArray(), dy) + Dot(r.HN.ToArray(), dhn);
        }

        long backwardRuns = launches.BackwardRuns;
        double[] gx, gh;
        using (var tx = Tensor<double>.FromArray(_device, x, steps, batch, input))
        using (var th = Tensor<double>.FromArray(_device, h0, ld, batch, hidden))
        using (var r = layer.Forward(tx, th, training: true))
        using (var tdy = Tensor<double>.FromArray(_device, dy, steps, batch, dirs * hidden))
        using (var tdh = Tensor<double>.FromArray(_device, dhn, ld, batch, hidden))
        using (var g = layer.Backward(r, tdy, tdh))
        {
            gx = g.DX.ToArray();
            gh = g.DH0.ToArray();
        }

        Assert.Equal(backwardRuns + ld, launches.BackwardRuns);
        layer.WholeLoops = false;
        void Compare(string what, double analytic, double plus, double minus)
        {
            double numeric = (plus - minus) / (2 * eps);
            double err = Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric));
            Assert.True(err < 1e-7, $"{cell} {what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        foreach (var (name, values, analytic) in new[] { ("x", x, gx), ("h0", h0, gh) })
        {
            foreach (int i in Picks(rng, values.Length, 8))
            {
                double keep = values[i];
                values[i] = keep + eps;
                double plus = Loss();
                values[i] = keep - eps;
                double minus = Loss();
                values[i] = keep;
                Compare($"d{name}[{i}]", analytic[i], plus, minus);
            }
        }

        foreach (var p in layer.Parameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            foreach (int i in Picks(rng, values.Length, 3))
            {
                double keep = values[i];
                values[i] = keep + eps;
                p.Value.CopyFrom(values);
                double plus = Loss();
                values[i] = keep - eps;
                p.Value.CopyFrom(values);
                double minus = Loss();
                values[i] = keep;
                p.Value.CopyFrom(values);
                Compare($"{p.Name}[{i}]", analytic[i], plus, minus);
            }
        }
    }

    /// <summary>The first and last index of n and <paramref name="random"/> more drawn from <paramref name="rng"/>.</summary>
    private static SortedSet<int> Picks(Random rng, int n, int random)
    {
        var picks = new SortedSet<int> { 0, n - 1 };
        for (int k = 0; k < random; k++)
            picks.Add(rng.Next(n));
        return picks;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }

    private Dictionary<string, float[]> Run(
        string cell, int batch, bool bidirectional, bool bias, bool wholeLoops, int hidden = 37, int layers = 1, Action? beforeBackward = null)
    {
        const int input = 6, steps = 5;
        int dirs = bidirectional ? 2 : 1;
        double dropout = layers > 1 ? 0.25 : 0;
        var rng = new Random(batch * 1000 + hidden);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hidden);
        var dhn = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        using RecurrentLayer<float> layer = cell == "gru"
            ? new GRU<float>(_device, new GRUOptions(input, hidden, layers, bias, Dropout: dropout, Bidirectional: bidirectional), seed: 5)
            : new RNN<float>(_device, new RNNOptions(input, hidden, layers, cell == "relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, bias,
                Dropout: dropout, Bidirectional: bidirectional), seed: 5);
        layer.WholeLoops = wholeLoops;
        using var tx = Tensor<float>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<float>.FromArray(_device, h0, layers * dirs, batch, hidden);
        using var tdy = Tensor<float>.FromArray(_device, dy, steps, batch, dirs * hidden);
        using var tdhn = Tensor<float>.FromArray(_device, dhn, layers * dirs, batch, hidden);
        var all = new Dictionary<string, float[]>();
        using (var inference = layer.Forward(tx, th, training: false))
        {
            all["inference.output"] = inference.Output.ToArray();
            all["inference.h_n"] = inference.HN.ToArray();
        }

        using var r = layer.Forward(tx, th, training: true);
        beforeBackward?.Invoke();
        using var g = layer.Backward(r, tdy, tdhn);
        all["output"] = r.Output.ToArray();
        all["h_n"] = r.HN.ToArray();
        all["dx"] = g.DX.ToArray();
        all["dh0"] = g.DH0.ToArray();
        foreach (var p in layer.Parameters())
            all["grad." + p.Name] = p.Grad.ToArray();
        return all;
    }
}
