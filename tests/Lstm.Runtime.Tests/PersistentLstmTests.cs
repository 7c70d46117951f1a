using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Tests;

/// <summary>
/// On an ILGPU device an LSTM direction's forward and backward loops run as one persistent launch each
/// (<see cref="PersistentLaunches"/>) where every group of its grid is resident: here ILGPU's CPU
/// accelerator with four multiprocessors, so H = 37 splits into 4 groups of 10 units. The output,
/// h_n, c_n, dx, dh0, dc0 and every parameter gradient equal the step loop's bit for bit; a grid
/// whose barrier times out (a lost group) falls back to the step loop, still exact.
/// </summary>
public sealed class PersistentLstmTests : IDisposable
{
    private readonly ComputeDevice _device = ComputeDevice.OpenIlgpuCpu(4, 2, 4);

    public void Dispose() => _device.Dispose();

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

    private Dictionary<string, float[]> Run(int batch, bool bidirectional, bool bias, bool wholeLoops, int layers = 1)
    {
        const int hidden = 37, input = 6, steps = 5;
        var options = new LSTMOptions(input, hidden, layers, bias, BatchFirst: false, Dropout: layers > 1 ? 0.25 : 0, Bidirectional: bidirectional);
        int dirs = bidirectional ? 2 : 1;
        var rng = new Random(batch * 1000 + hidden);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var c0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hidden);
        using var lstm = new LSTM<float>(_device, options, seed: 5) { WholeLoops = wholeLoops };
        using var tx = Tensor<float>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<float>.FromArray(_device, h0, layers * dirs, batch, hidden);
        using var tc = Tensor<float>.FromArray(_device, c0, layers * dirs, batch, hidden);
        using var tdy = Tensor<float>.FromArray(_device, dy, steps, batch, dirs * hidden);
        var all = new Dictionary<string, float[]>();
        using (var inference = lstm.Forward(tx, th, tc, training: false))
        {
            all["inference.output"] = inference.Output.ToArray();
            all["inference.h_n"] = inference.HN.ToArray();
            all["inference.c_n"] = inference.CN.ToArray();
        }

        using var r = lstm.Forward(tx, th, tc, training: true);
        using var g = lstm.Backward(r, tdy);
        BitwiseResults.AddLstm(all, r, g);
        foreach (var p in lstm.Parameters())
            all["grad." + p.Name] = p.Grad.ToArray();
        return all;
    }
}
