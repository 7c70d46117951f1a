using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// On an ILGPU device an LSTM direction's forward and backward loops run as one persistent launch each
/// (<see cref="PersistentLaunches"/>) where every group of its grid is resident: here ILGPU's CPU
/// accelerator with four multiprocessors, so H = 37 splits into 4 groups of 10 units. The output,
/// h_n, c_n, dx, dh0, dc0 and every parameter gradient equal the step loop's bit for bit, with
/// variable lengths (unsorted, one row full length) and with a projection (P = 13: groups of 4
/// features, the last of 1; P = 2: two groups own none) too; a grid whose barrier times out (a
/// lost group) falls back to the step loop, still exact. In float64 the persistent loops agree
/// with the reference network and with finite differences.
/// </summary>
public sealed class PersistentLstmTests
{
    private readonly ComputeDevice _device = PersistentTestDevice.Get();

    [Theory]
    [InlineData(1, true, true)]
    [InlineData(3, false, false)]
    public void PersistentForward_EqualsStepLoop_Bitwise(int batch, bool bidirectional, bool bias)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(batch, bidirectional, bias, wholeLoops: false);
        Assert.Equal(runs, launches.Runs);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        var persistent = Run(batch, bidirectional, bias, wholeLoops: true);
        // Two forwards (inference, training) and one backward a direction.
        Assert.Equal(runs + 2 * (bidirectional ? 2 : 1), launches.Runs);
        Assert.Equal(backwardRuns + (bidirectional ? 2 : 1), launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"LSTM B={batch} H=37 bidirectional={bidirectional} on ilgpu-cpu", "persistent", "step by step");
    }

    [Fact]
    public void StackedLayers_TakeThePersistentLoop_LayerAfterLayer_Bitwise()
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        long runs = launches.Runs;
        var steps = Run(2, false, true, wholeLoops: false, layers: 2);
        Assert.Equal(runs, launches.Runs);
        // Left at its default the wavefront is on here, yet every layer fits the grid, so each
        // forward (inference, training) runs both layers as persistent launches, one after the other.
        using (var probe = new LSTM<float>(_device, new LSTMOptions(6, 37, 2), seed: 5))
            Assert.True(probe.Wavefront);
        var persistent = Run(2, false, true, wholeLoops: true, layers: 2);
        Assert.Equal(runs + 2 * 2, launches.Runs);
        BitwiseResults.AssertEqual(steps, persistent, "2-layer LSTM B=2 H=37 with dropout on ilgpu-cpu", "persistent", "step by step");
    }

    [Fact]
    public void LostGroup_TimesOut_AndTheStepLoopGivesTheSameResult()
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var steps = Run(3, true, true, wholeLoops: false);
        long timeouts = launches.Timeouts, runs = launches.Runs;
        long backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        launches.SkipGroup = 2;
        launches.SpinLimit = 1 << 16;
        try
        {
            var fallen = Run(3, true, true, wholeLoops: true);
            Assert.Equal(timeouts + 4, launches.Timeouts);
            Assert.Equal(runs, launches.Runs);
            Assert.Equal(backwardTimeouts + 2, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, "LSTM after a persistent time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    [Theory]
    [InlineData(true, false, 0, true)]
    [InlineData(true, true, 0, false)]
    [InlineData(false, true, 13, true)]
    [InlineData(true, false, 13, false)]
    [InlineData(true, true, 13, true)]
    [InlineData(true, true, 2, true)]
    public void LengthsAndProjection_EqualStepLoop_Bitwise(bool ragged, bool bidirectional, int proj, bool bias)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        int[]? lengths = ragged ? [4, 7, 1, 3, 7] : null;
        var setup = new Setup(5, bidirectional, bias, Steps: 7, Proj: proj, Lengths: lengths);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(setup, wholeLoops: false);
        Assert.Equal(runs, launches.Runs);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        var persistent = Run(setup, wholeLoops: true);
        Assert.Equal(runs + 2 * (bidirectional ? 2 : 1), launches.Runs);
        Assert.Equal(backwardRuns + (bidirectional ? 2 : 1), launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"LSTM B=5 H=37 P={proj} lengths={ragged} bidirectional={bidirectional} on ilgpu-cpu", "persistent", "step by step");
    }

    [Fact]
    public void StackedLayers_WithLengthsAndProjection_TakeThePersistentLoop_Bitwise()
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(4, false, true, Layers: 2, Steps: 6, Proj: 11, Lengths: [2, 6, 5, 1]);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(setup, wholeLoops: false);
        var persistent = Run(setup, wholeLoops: true);
        // Two forwards (inference, training) and a backward, each for both layers one after the other.
        Assert.Equal(runs + 2 * 2, launches.Runs);
        Assert.Equal(backwardRuns + 2, launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, "2-layer LSTM B=4 H=37 P=11 with lengths and dropout on ilgpu-cpu", "persistent", "step by step");
    }

    [Fact]
    public void LostGroup_WithLengthsAndProjection_TimesOut_AndTheStepLoopGivesTheSameResult()
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(5, true, true, Steps: 6, Proj: 13, Lengths: [3, 6, 1, 6, 2]);
        var steps = Run(setup, wholeLoops: false);
        long timeouts = launches.Timeouts, runs = launches.Runs;
        long backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        launches.SkipGroup = 1;
        launches.SpinLimit = 1 << 16;
        try
        {
            var fallen = Run(setup, wholeLoops: true);
            Assert.Equal(timeouts + 4, launches.Timeouts);
            Assert.Equal(runs, launches.Runs);
            Assert.Equal(backwardTimeouts + 2, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, "LSTM with lengths and projection after a persistent time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    /// <summary>
    /// float64, lengths and a projection, both directions, on the persistent loops: the forward
    /// against <see cref="NetworkReference"/>, the gradients against central finite differences of
    /// loss = Σ output·dy + Σ h_n·dhn + Σ c_n·dcn.
    /// </summary>
    [Fact]
    public void Float64_LengthsAndProjection_MatchTheReferenceAndFiniteDifferences()
    {
        const int input = 3, hidden = 9, proj = 5, steps = 5, batch = 3, dirs = 2;
        const double eps = 1e-6;
        int[] lengths = [2, 5, 4];
        var launches = PersistentLaunches.For(_device.Accelerator);
        using var lstm = new LSTM<double>(_device, new LSTMOptions(input, hidden, 1, Bidirectional: true, ProjSize: proj), seed: 7);
        var rng = new Random(31);
        var x = Numerics.Uniform(rng, steps * batch * input);
        var h0 = Numerics.Uniform(rng, dirs * batch * proj);
        var c0 = Numerics.Uniform(rng, dirs * batch * hidden);
        var dy = Numerics.Uniform(rng, steps * batch * dirs * proj);
        var dhn = Numerics.Uniform(rng, dirs * batch * proj);
        var dcn = Numerics.Uniform(rng, dirs * batch * hidden);
        var parameters = lstm.Parameters().ToDictionary(p => p.Name, p => p.Value.ToArray());

        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        lstm.ZeroGrad();
        using var tx = Tensor<double>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<double>.FromArray(_device, h0, dirs, batch, proj);
        using var tc = Tensor<double>.FromArray(_device, c0, dirs, batch, hidden);
        using var result = lstm.Forward(tx, th, tc, training: true, lengths: lengths);
        using var tdy = Tensor<double>.FromArray(_device, dy, steps, batch, dirs * proj);
        using var tdh = Tensor<double>.FromArray(_device, dhn, dirs, batch, proj);
        using var tdc = Tensor<double>.FromArray(_device, dcn, dirs, batch, hidden);
        using var grads = lstm.Backward(result, tdy, tdh, tdc);
        Assert.Equal(runs + dirs, launches.Runs);
        Assert.Equal(backwardRuns + dirs, launches.BackwardRuns);

        var options = new NetworkReferenceOptions { Cell = RecurrentCell.Lstm, InputSize = input, HiddenSize = hidden, Bidirectional = true, ProjSize = proj };
        var reference = NetworkReference.Forward(options, parameters, x, steps, batch, h0, c0, lengths);
        Assert.True(Numerics.MaxAbsError(result.Output.ToArray(), reference.Output) < 1e-12, "output");
        Assert.True(Numerics.MaxAbsError(result.HN.ToArray(), reference.HN) < 1e-12, "h_n");
        Assert.True(Numerics.MaxAbsError(result.CN.ToArray(), reference.CN) < 1e-12, "c_n");

        double Loss()
        {
            using var r = lstm.Forward(tx, th, tc, lengths: lengths);
            return Dot(r.Output.ToArray(), dy) + Dot(r.HN.ToArray(), dhn) + Dot(r.CN.ToArray(), dcn);
        }

        void Check(string what, double analytic, Action<double> set, double keep)
        {
            set(keep + eps);
            double plus = Loss();
            set(keep - eps);
            double minus = Loss();
            set(keep);
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric)) < 1e-7, $"{what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        foreach (var (name, tensor, values, analytic) in new[] { ("x", tx, x, grads.DX.ToArray()), ("h0", th, h0, grads.DH0.ToArray()), ("c0", tc, c0, grads.DC0.ToArray()) })
        {
            for (int i = 0; i < values.Length; i += 2)
            {
                int at = i;
                Check($"{name}[{at}]", analytic[at], v => { values[at] = v; tensor.CopyFrom(values); }, values[at]);
            }
        }

        foreach (var p in lstm.Parameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            foreach (int i in new SortedSet<int> { 0, values.Length - 1, rng.Next(values.Length), rng.Next(values.Length), rng.Next(values.Length) })
                Check($"{p.Name}[{i}]", analytic[i], v => { values[i] = v; p.Value.CopyFrom(values); }, values[i]);
        }
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }

    private Dictionary<string, float[]> Run(int batch, bool bidirectional, bool bias, bool wholeLoops, int layers = 1) =>
        Run(new Setup(batch, bidirectional, bias, layers), wholeLoops);

    /// <summary>An inference forward, a training forward and its backward (from dy, dh_n and dc_n); every result and gradient by name.</summary>
    private Dictionary<string, float[]> Run(Setup setup, bool wholeLoops)
    {
        const int hidden = 37, input = 6;
        var (batch, bidirectional, bias, layers, steps, proj, lengths) = setup;
        int hOut = proj > 0 ? proj : hidden;
        var options = new LSTMOptions(input, hidden, layers, bias, BatchFirst: false, Dropout: layers > 1 ? 0.25 : 0, Bidirectional: bidirectional, ProjSize: proj);
        int dirs = bidirectional ? 2 : 1;
        var rng = new Random(batch * 1000 + hidden + proj);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hOut);
        var c0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hOut);
        var dhn = BitwiseResults.Uniform(rng, layers * dirs * batch * hOut);
        var dcn = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        using var lstm = new LSTM<float>(_device, options, seed: 5) { WholeLoops = wholeLoops };
        using var tx = Tensor<float>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<float>.FromArray(_device, h0, layers * dirs, batch, hOut);
        using var tc = Tensor<float>.FromArray(_device, c0, layers * dirs, batch, hidden);
        using var tdy = Tensor<float>.FromArray(_device, dy, steps, batch, dirs * hOut);
        using var tdh = Tensor<float>.FromArray(_device, dhn, layers * dirs, batch, hOut);
        using var tdc = Tensor<float>.FromArray(_device, dcn, layers * dirs, batch, hidden);
        var all = new Dictionary<string, float[]>();
        using (var inference = lstm.Forward(tx, th, tc, training: false, lengths: lengths))
        {
            all["inference.output"] = inference.Output.ToArray();
            all["inference.h_n"] = inference.HN.ToArray();
            all["inference.c_n"] = inference.CN.ToArray();
        }

        using var r = lstm.Forward(tx, th, tc, training: true, lengths: lengths);
        // Without lengths, dh_n and dc_n are left out (zero), as in the first tests.
        using var g = lengths is null && proj == 0 ? lstm.Backward(r, tdy) : lstm.Backward(r, tdy, tdh, tdc);
        BitwiseResults.AddLstm(all, r, g);
        foreach (var p in lstm.Parameters())
            all["grad." + p.Name] = p.Grad.ToArray();
        return all;
    }

    /// <summary>One run's shape: T steps, P = proj_size (0: none), each row's length (null: all T).</summary>
    private sealed record Setup(int Batch, bool Bidirectional, bool Bias, int Layers = 1, int Steps = 5, int Proj = 0, int[]? Lengths = null);
}
