using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// On a CUDA GPU a direction's forward step loop that is not one persistent launch is recorded as a
/// CUDA graph on its second run and replayed after (<see cref="StepLoopGraphs"/>): the output, h_n, c_n
/// and (after a training forward) every gradient equal the launch-by-launch loop's bit for bit. The
/// persistent path is switched off here so every shape takes the step loop. GPU only.
/// </summary>
public sealed class StepLoopGraphTests
{
    private const string NoGpu = "no CUDA GPU on this machine";

    [SkippableTheory]
    [InlineData("lstm", 3, false, 0)]
    [InlineData("lstm", 2, true, 0)]
    [InlineData("lstm", 4, false, 5)]
    [InlineData("gru", 3, true, 0)]
    [InlineData("rnn", 1, false, 0)]
    public void GraphReplay_EqualsTheStepLoop_Bitwise(string cell, int batch, bool bidirectional, int proj)
    {
        Skip.IfNot(TestDevices.Has(DeviceKind.Cuda), NoGpu);
        var device = TestDevices.Get(TestDevices.OfKind(DeviceKind.Cuda)[0].Name);
        var launches = PersistentLaunches.For(device.Accelerator);
        var graphs = StepLoopGraphs.For(device.Accelerator);
        bool persistent = launches.Enabled, recorded = graphs.Enabled;
        try
        {
            launches.Enabled = false;
            graphs.Enabled = false;
            var plain = Run(device, cell, batch, bidirectional, proj);
            graphs.Enabled = true;
            long captures = graphs.Captures, replays = graphs.Replays;
            var replayed = Run(device, cell, batch, bidirectional, proj);
            Assert.True(graphs.Captures > captures, $"{cell}: no step loop was recorded");
            Assert.True(graphs.Replays - replays >= 2L * (bidirectional ? 2 : 1), $"{cell}: {graphs.Replays - replays} replays");
            BitwiseResults.AssertEqual(plain, replayed, $"{cell} B={batch} bidirectional={bidirectional} proj={proj} on CUDA", "graph", "step loop");
        }
        finally
        {
            launches.Enabled = persistent;
            graphs.Enabled = recorded;
        }
    }

    /// <summary>Switched off, no loop is recorded or replayed.</summary>
    [SkippableFact]
    public void Disabled_RecordsNothing()
    {
        Skip.IfNot(TestDevices.Has(DeviceKind.Cuda), NoGpu);
        var device = TestDevices.Get(TestDevices.OfKind(DeviceKind.Cuda)[0].Name);
        var launches = PersistentLaunches.For(device.Accelerator);
        var graphs = StepLoopGraphs.For(device.Accelerator);
        bool persistent = launches.Enabled, recorded = graphs.Enabled;
        try
        {
            launches.Enabled = false;
            graphs.Enabled = false;
            long captures = graphs.Captures, replays = graphs.Replays;
            Run(device, "lstm", 2, false, 0);
            Assert.Equal(captures, graphs.Captures);
            Assert.Equal(replays, graphs.Replays);
        }
        finally
        {
            launches.Enabled = persistent;
            graphs.Enabled = recorded;
        }
    }

    /// <summary>Three inference forwards (the first runs as it is, the second records, the third replays), then a training forward and backward.</summary>
    private static Dictionary<string, float[]> Run(ComputeDevice device, string cell, int batch, bool bidirectional, int proj)
    {
        const int hidden = 37, input = 6, steps = 7;
        int dirs = bidirectional ? 2 : 1, outSize = proj > 0 ? proj : hidden;
        var rng = new Random(batch * 100 + proj);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * outSize);
        using RecurrentLayer<float> layer = cell switch
        {
            "lstm" => new LSTM<float>(device, new LSTMOptions(input, hidden, 1, Bidirectional: bidirectional, ProjSize: proj), seed: 3),
            "gru" => new GRU<float>(device, new GRUOptions(input, hidden, 1, Bidirectional: bidirectional), seed: 3),
            _ => new RNN<float>(device, new RNNOptions(input, hidden, 1, Bidirectional: bidirectional), seed: 3),
        };
        using var tx = Tensor<float>.FromArray(device, x, steps, batch, input);
        using var tdy = Tensor<float>.FromArray(device, dy, steps, batch, dirs * outSize);
        var all = new Dictionary<string, float[]>();
        for (int pass = 0; pass < 3; pass++)
        {
            using var inference = layer.Forward(tx, training: false);
            all[$"inference{pass}.output"] = inference.Output.ToArray();
            all[$"inference{pass}.h_n"] = inference.HN.ToArray();
        }

        using var r = layer.Forward(tx, training: true);
        using var g = layer.Backward(r, tdy);
        all["training.output"] = r.Output.ToArray();
        foreach (var p in layer.Parameters())
            all["grad." + p.Name] = p.Grad.ToArray();
        return all;
    }
}
