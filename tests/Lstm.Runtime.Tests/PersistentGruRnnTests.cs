using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Tests;

/// <summary>
/// On an ILGPU device a GRU or RNN direction's forward loop runs as one persistent launch
/// (<see cref="PersistentLaunches"/>, counted with the LSTM's) where every group of its grid is
/// resident: here ILGPU's CPU accelerator with four multiprocessors and H = 37. The inference and
/// training outputs, h_n, dx, dh0 and every parameter gradient (the step backward reading the
/// stored activations) equal the step loop's bit for bit; a time-out falls back to the step loop.
/// </summary>
public sealed class PersistentGruRnnTests : IDisposable
{
    private readonly ComputeDevice _device = ComputeDevice.OpenIlgpuCpu(4, 2, 4);

    public void Dispose() => _device.Dispose();

    [Theory]
    [InlineData("gru", 1, true, true)]
    [InlineData("gru", 3, false, false)]
    [InlineData("tanh", 2, true, true)]
    [InlineData("relu", 3, false, true)]
    public void PersistentForward_EqualsStepLoop_Bitwise(string cell, int batch, bool bidirectional, bool bias)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        long runs = launches.Runs;
        var steps = Run(cell, batch, bidirectional, bias, wholeLoops: false);
        Assert.Equal(runs, launches.Runs);
        var persistent = Run(cell, batch, bidirectional, bias, wholeLoops: true);
        // Two forwards (inference, training) a direction.
        Assert.Equal(runs + 2 * (bidirectional ? 2 : 1), launches.Runs);
        BitwiseResults.AssertEqual(steps, persistent, $"{cell} B={batch} H=37 bidirectional={bidirectional} on ilgpu-cpu", "persistent", "step by step");
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("tanh")]
    public void LostGroup_TimesOut_AndTheStepLoopGivesTheSameResult(string cell)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var steps = Run(cell, 3, true, true, wholeLoops: false);
        long timeouts = launches.Timeouts, runs = launches.Runs;
        launches.SkipGroup = 2;
        launches.SpinLimit = 1 << 16;
        try
        {
            var fallen = Run(cell, 3, true, true, wholeLoops: true);
            Assert.Equal(timeouts + 4, launches.Timeouts);
            Assert.Equal(runs, launches.Runs);
            BitwiseResults.AssertEqual(steps, fallen, $"{cell} after a persistent time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    private Dictionary<string, float[]> Run(string cell, int batch, bool bidirectional, bool bias, bool wholeLoops)
    {
        const int hidden = 37, input = 6, steps = 5;
        int dirs = bidirectional ? 2 : 1;
        var rng = new Random(batch * 1000 + hidden);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hidden);
        using RecurrentLayer<float> layer = cell == "gru"
            ? new GRU<float>(_device, new GRUOptions(input, hidden, 1, bias, Bidirectional: bidirectional), seed: 5)
            : new RNN<float>(_device, new RNNOptions(input, hidden, 1, cell == "relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, bias, Bidirectional: bidirectional), seed: 5);
        layer.WholeLoops = wholeLoops;
        using var tx = Tensor<float>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<float>.FromArray(_device, h0, dirs, batch, hidden);
        using var tdy = Tensor<float>.FromArray(_device, dy, steps, batch, dirs * hidden);
        var all = new Dictionary<string, float[]>();
        using (var inference = layer.Forward(tx, th, training: false))
        {
            all["inference.output"] = inference.Output.ToArray();
            all["inference.h_n"] = inference.HN.ToArray();
        }

        using var r = layer.Forward(tx, th, training: true);
        using var g = layer.Backward(r, tdy);
        all["output"] = r.Output.ToArray();
        all["h_n"] = r.HN.ToArray();
        all["dx"] = g.DX.ToArray();
        all["dh0"] = g.DH0.ToArray();
        foreach (var p in layer.Parameters())
            all["grad." + p.Name] = p.Grad.ToArray();
        return all;
    }
}
