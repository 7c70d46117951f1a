using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// <see cref="PipelinedNetwork{T}"/> (the recurrent layers over several devices, run as a
/// <see cref="LayerPipeline{T}"/> chunk by chunk) against the one-device
/// <see cref="SequenceNetwork{T}"/> of the same configuration and seed.
/// Tolerances: the initial parameters are equal bit for bit (copied from the one-device layer).
/// On <c>cpu</c> the forward output is equal bit for bit for every chunk length: every GEMM row
/// of a chunk is computed as in the whole-sequence GEMM (the host GEMM's result for a row does
/// not depend on how many rows the call has), the dropout masks have the same keys, and
/// the carried (h, c) is the state the one-device loop would read. The parameter gradients are
/// sums over chunks instead of one sum over all steps, so they differ by rounding: relative to
/// the largest gradient of the parameter (at least 1e-2), 1e-12 in float64 and 1e-5 in float32.
/// On <c>ilgpu-cpu</c> (other kernels than <c>cpu</c>'s), the same 1e-12 in float64 against the
/// one-device network on <c>ilgpu-cpu</c>, at tiny shapes (a slow simulator).
/// </summary>
public sealed class LayerPipelineTests : IDisposable
{
    private const int B = 3, T = 7, I = 3, H = 5, O = 2, V = 6;
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
    }

    /// <summary>
    /// The devices of a placement: a fresh <c>cpu</c> for each <c>cpu</c> (opening one costs
    /// nothing), and for the others the shared opens of <see cref="TestDevices"/>, whose kernels
    /// compile once for every test: a name placed twice gets two opens of the device (a second
    /// context), as two <c>cpu</c> do.
    /// </summary>
    private ComputeDevice[] Open(params string[] names)
    {
        var devices = new ComputeDevice[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i] == ComputeDevice.CpuName)
            {
                devices[i] = ComputeDevice.Open(names[i]);
                _owned.Add(devices[i]);
            }
            else
            {
                devices[i] = TestDevices.Copy(names[i], names.Take(i).Count(n => n == names[i]));
            }
        }

        return devices;
    }

    private static ModelConfig Config(string kind, string cell, int layers, int proj, double dropout, bool bidirectional = false, int hidden = H)
    {
        var k = ModelConfig.ParseKind(kind);
        var c = ModelConfig.ParseCell(cell);
        return k == ModelKind.LanguageModel
            ? ModelConfig.LanguageModel(c, V, I, hidden, layers, dropout, proj) with { Bidirectional = bidirectional }
            : new ModelConfig(k, c, I, hidden, O, layers, Bias: true, bidirectional, dropout, proj);
    }

    private static T[] Input<T>(ModelConfig config, int batch, int steps, int seed) where T : unmanaged
    {
        var rng = new Random(seed);
        return config.Kind == ModelKind.LanguageModel
            ? [.. Enumerable.Range(0, batch * steps).Select(_ => Num<T>.From(rng.Next(V)))]
            : [.. Enumerable.Range(0, batch * steps * I).Select(_ => Num<T>.From(rng.NextDouble() * 2 - 1))];
    }

    /// <summary>y of a training forward and every gradient after a backward of a fixed dy.</summary>
    private static (T[] Y, Dictionary<string, T[]> Grads) Run<T>(ISequenceModel<T> model, ModelConfig config, int batch, int steps) where T : unmanaged
    {
        var x = Input<T>(config, batch, steps, 5);
        using var input = config.Kind == ModelKind.LanguageModel
            ? Tensor<T>.FromArray(model.Device, x, batch, steps)
            : Tensor<T>.FromArray(model.Device, x, batch, steps, I);
        model.DropoutSeed = 1234567;
        model.ZeroGrad();
        using var y = model.Forward(input, training: true);
        var rng = new Random(9);
        var w = Enumerable.Range(0, (int)y.Length).Select(_ => Num<T>.From(rng.NextDouble() * 2 - 1)).ToArray();
        using var dy = Tensor<T>.FromArray(model.Device, w, [.. y.Shape]);
        var yValues = y.ToArray();
        model.Backward(dy);
        return (yValues, model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ToArray()));
    }

    private static void AssertClose<T>(Dictionary<string, T[]> expected, Dictionary<string, T[]> actual, double tolerance) where T : unmanaged
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            double scale = Math.Max(1e-2, e.Max(v => Math.Abs(Num<T>.ToDouble(v))));
            double worst = e.Zip(a, (u, v) => Math.Abs(Num<T>.ToDouble(u) - Num<T>.ToDouble(v))).Max() / scale;
            Assert.True(worst <= tolerance, $"{name}: relative error {worst:E3} > {tolerance:E1}");
        }
    }

    private (T[] Y, Dictionary<string, T[]> Grads, T[] PipeY, Dictionary<string, T[]> PipeGrads) Compare<T>(
        ModelConfig config, string oneDevice, string[] placement, int chunk, int batch = B, int steps = T) where T : unmanaged
    {
        var single = Open(oneDevice)[0];
        using var reference = new SequenceNetwork<T>(single, config, seed: 3);
        using var pipelined = new PipelinedNetwork<T>(config, Open(placement), seed: 3);
        pipelined.Pipeline.ChunkSteps = chunk;
        var (y, grads) = Run(reference, config, batch, steps);
        var (py, pgrads) = Run(pipelined, config, batch, steps);
        return (y, grads, py, pgrads);
    }

    public static IEnumerable<object[]> CpuCases()
    {
        foreach (var cell in new[] { "lstm", "gru", "rnn-tanh", "rnn-relu" })
        {
            foreach (int chunk in new[] { 1, 3, T, T + 4 })
                yield return ["sequence-to-sequence", cell, 2, 0, 0.0, chunk];
            yield return ["sequence-to-one", cell, 3, 0, 0.4, 3];
            yield return ["language-model", cell, 2, 0, 0.3, 2];
        }

        yield return ["sequence-to-sequence", "lstm", 2, 3, 0.3, 1];
        yield return ["sequence-to-one", "lstm", 3, 2, 0.5, 3];
        yield return ["language-model", "lstm", 2, 4, 0.2, T + 1];
    }

    [Theory]
    [MemberData(nameof(CpuCases))]
    public void CpuCpu_ForwardBitwise_GradientsWithin1e12_Float64(string kind, string cell, int layers, int proj, double dropout, int chunk)
    {
        var config = Config(kind, cell, layers, proj, dropout);
        var (y, grads, py, pgrads) = Compare<double>(config, "cpu", [.. Enumerable.Repeat("cpu", layers)], chunk);
        Assert.Equal(y, py);
        AssertClose(grads, pgrads, 1e-12);
    }

    [Theory]
    [InlineData("sequence-to-sequence", "lstm", 2, 3, 0.3, 3)]
    [InlineData("sequence-to-one", "gru", 2, 0, 0.4, 1)]
    [InlineData("language-model", "rnn-tanh", 2, 0, 0.2, 3)]
    public void CpuCpu_ForwardBitwise_GradientsWithin1e5_Float32(string kind, string cell, int layers, int proj, double dropout, int chunk)
    {
        var config = Config(kind, cell, layers, proj, dropout);
        var (y, grads, py, pgrads) = Compare<float>(config, "cpu", [.. Enumerable.Repeat("cpu", layers)], chunk);
        Assert.Equal(y, py);
        AssertClose(grads, pgrads, 1e-5);
    }

    [Theory]
    [InlineData("sequence-to-one", "lstm", 0)]
    [InlineData("sequence-to-sequence", "gru", 0)]
    [InlineData("sequence-to-sequence", "lstm", 2)]
    public void Bidirectional_RunsWholeSequenceChunks_AndMatches(string kind, string cell, int proj)
    {
        var config = Config(kind, cell, 2, proj, 0.3, bidirectional: true);
        var (y, grads, py, pgrads) = Compare<double>(config, "cpu", ["cpu", "cpu"], chunk: 2);
        Assert.Equal(y, py);
        AssertClose(grads, pgrads, 1e-12);
        using var pipelined = new PipelinedNetwork<double>(config, Open("cpu", "cpu"));
        pipelined.Pipeline.ChunkSteps = 2;
        Assert.Equal(T, pipelined.Pipeline.ChunkFor(T));
    }

    [Theory]
    [InlineData("cpu", "ilgpu-cpu", "lstm", 1)]
    [InlineData("ilgpu-cpu", "ilgpu-cpu", "gru", 2)]
    [InlineData("ilgpu-cpu", "cpu", "rnn-tanh", 3)]
    public void MixedPlacements_MatchOneDevice_Float64(string first, string second, string cell, int chunk)
    {
        // Tiny: B=2, T=4, H=3 (ilgpu-cpu simulates every lane with a thread).
        var config = Config("sequence-to-sequence", cell, 2, cell == "lstm" ? 2 : 0, 0.3, hidden: 3);
        var (y, grads, py, pgrads) = Compare<double>(config, "cpu", [first, second], chunk, batch: 2, steps: 4);
        var diff = y.Zip(py, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff <= 1e-12, $"forward differs by {diff:E3}");
        AssertClose(grads, pgrads, 1e-12);
    }

    [Fact]
    public void IlgpuPair_Float32_WithinTolerance()
    {
        var config = Config("sequence-to-one", "lstm", 2, 0, 0.2, hidden: 3);
        var (y, grads, py, pgrads) = Compare<float>(config, "ilgpu-cpu", ["ilgpu-cpu", "ilgpu-cpu"], chunk: 3, batch: 2, steps: 4);
        var diff = y.Zip(py, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff <= 1e-5, $"forward differs by {diff:E3}");
        AssertClose(grads, pgrads, 1e-5);
    }

    /// <summary>Each CUDA and OpenCL device with the host and with a second context of itself (page-locked staging, a bound thread per device); float32 within 1e-5.</summary>
    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void BackendPlacements_MatchOneDevice_Float32(DeviceKind kind)
    {
        var devices = TestDevices.OfKindOrSkip(kind);
        var config = Config("sequence-to-sequence", "lstm", 2, 3, 0.3);
        foreach (var device in devices)
        {
            foreach (string[] placement in new[] { new[] { device.Name, "cpu" }, ["cpu", device.Name], [device.Name, device.Name] })
            {
                var (y, grads, py, pgrads) = Compare<float>(config, "cpu", placement, chunk: 3);
                var diff = y.Zip(py, (a, b) => Math.Abs(a - b)).Max();
                Assert.True(diff <= 1e-5, $"{string.Join(",", placement)}: forward differs by {diff:E3}");
                AssertClose(grads, pgrads, 1e-5);
            }
        }
    }

    /// <summary>
    /// The stages overlap. Forward: layer 0 may not start chunk c + 1 before layer 1 has started
    /// chunk c; backward: layer 1 may not start chunk c − 1 before layer 0 has started chunk c.
    /// Were the layers run one after the other, the producing layer would wait for ever (here:
    /// 30 s, then the test fails).
    /// </summary>
    [Fact]
    public void Stages_Overlap_Forward_And_Backward()
    {
        var config = Config("sequence-to-sequence", "lstm", 2, 0, 0.2);
        using var pipelined = new PipelinedNetwork<double>(config, Open("cpu", "cpu"), seed: 1);
        pipelined.Pipeline.ChunkSteps = 2;
        int chunks = (T + 1) / 2;
        var started = new[] { new SemaphoreSlim(0), new SemaphoreSlim(0) }; // The consuming layer started a chunk: [forward, backward].
        var waitedFor = new List<(bool Forward, int Chunk)>();
        pipelined.Pipeline.ChunkStarting = (layer, chunk, forward) =>
        {
            var signal = started[forward ? 0 : 1];
            int producer = forward ? 0 : 1;
            if (layer != producer)
            {
                signal.Release();
                return;
            }

            bool first = forward ? chunk == 0 : chunk == chunks - 1;
            if (!first)
            {
                Assert.True(signal.Wait(TimeSpan.FromSeconds(30)), $"layer {producer} waited in vain for layer {1 - producer} before its {(forward ? "forward" : "backward")} chunk {chunk}");
                lock (waitedFor)
                    waitedFor.Add((forward, chunk));
            }
        };
        var (y, grads) = Run(pipelined, config, B, T);
        Assert.Equal(2 * (chunks - 1), waitedFor.Count);
        using var reference = new SequenceNetwork<double>(Open("cpu")[0], config, seed: 1);
        var (ry, rgrads) = Run(reference, config, B, T);
        Assert.Equal(ry, y);
        AssertClose(rgrads, grads, 1e-12);
    }

    /// <summary>
    /// Variable lengths through <see cref="LayerPipeline{T}"/> directly, against the one-device
    /// multi-layer layer: output and h_n bit for bit, parameter gradients and dx within 1e-12.
    /// Lengths include 0, T and one that ends inside a chunk.
    /// </summary>
    [Theory]
    [InlineData("lstm", 2, 0.3, 3, new[] { 7, 0, 4 })]
    [InlineData("lstm", 0, 0.0, 1, new[] { 2, 7, 5 })]
    [InlineData("gru", 0, 0.4, 3, new[] { 5, 7, 1 })]
    [InlineData("rnn-tanh", 0, 0.2, 4, new[] { 3, 3, 7 })]
    public void VariableLengths_MatchTheOneDeviceLayer(string cell, int proj, double dropout, int chunk, int[] lengths)
    {
        var config = Config("sequence-to-sequence", cell, 2, proj, dropout);
        var host = Open("cpu")[0];
        using var reference = LayerFor(host, config, seed: 8);
        using var pipeline = new LayerPipeline<double>(config, Open("cpu", "cpu"), seed: 8) { ChunkSteps = chunk, DropoutSeed = 99 };
        reference.DropoutSeed = 99;
        var x = Input<double>(config, B, T, 2);
        var rng = new Random(4);
        int w = config.HeadInputSize;
        var dOut = Enumerable.Range(0, B * T * w).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var dHn = Enumerable.Range(0, B * w).Select(_ => rng.NextDouble() - 0.5).ToArray();

        using var rx = Tensor<double>.FromArray(host, x, B, T, I);
        using var rdOut = Tensor<double>.FromArray(host, dOut, B, T, w);
        using var rdHn = Tensor<double>.Zeros(host, 2, B, w);
        rdHn.CopyFrom([.. new double[B * w], .. dHn]);
        var (output, hn, dx, grads) = RunReference(reference, rx, rdOut, rdHn, lengths);

        using var px = Tensor<double>.FromArray(pipeline.Placement[0], x, B, T, I);
        using var pdOut = Tensor<double>.FromArray(pipeline.Placement[1], dOut, B, T, w);
        using var pdHn = Tensor<double>.FromArray(pipeline.Placement[1], dHn, 1, B, w);
        using var result = pipeline.Forward(px, training: true, lengths);
        Assert.Equal(output, result.Output.ToArray());
        Assert.Equal(hn, result.HN.ToArray());
        using var pdx = pipeline.Backward(result, pdOut, pdHn);
        AssertClose(new Dictionary<string, double[]> { ["dx"] = dx }, new Dictionary<string, double[]> { ["dx"] = pdx.ToArray() }, 1e-12);
        AssertClose(grads, pipeline.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ToArray()), 1e-12);
    }

    [Fact]
    public void VariableLengths_OutOfRange_Throw()
    {
        var config = Config("sequence-to-sequence", "gru", 2, 0, 0);
        using var pipeline = new LayerPipeline<double>(config, Open("cpu", "cpu"), seed: 1);
        using var x = Tensor<double>.Zeros(pipeline.Placement[0], B, T, I);
        Assert.Contains("lengths[1] = 8 is outside [0, seq_len = 7]", Assert.Throws<LstmException>(() => pipeline.Forward(x, lengths: [1, 8, 2])).Message, StringComparison.Ordinal);
        Assert.Contains("expected one per sequence (batch = 3)", Assert.Throws<LstmException>(() => pipeline.Forward(x, lengths: [1, 2])).Message, StringComparison.Ordinal);
    }

    private static RecurrentLayer<double> LayerFor(ComputeDevice device, ModelConfig c, int seed) => RecurrentLayers.Create<double>(device, c, batchFirst: true, seed);

    /// <summary>Output, top h_n, dx and the parameter gradients of the one-device layer.</summary>
    private static (double[] Output, double[] HN, double[] DX, Dictionary<string, double[]> Grads) RunReference(
        RecurrentLayer<double> layer, Tensor<double> x, Tensor<double> dOut, Tensor<double> dHn, int[] lengths)
    {
        RecurrentResult<double> result = layer switch
        {
            LSTM<double> l => l.Forward(x, training: true, lengths: lengths),
            GRU<double> g => g.Forward(x, training: true, lengths: lengths),
            RNN<double> r => r.Forward(x, training: true, lengths: lengths),
            _ => throw new InvalidOperationException(),
        };
        using (result)
        {
            var hn = result.HN.ToArray();
            using RecurrentGradients<double> grads = layer switch
            {
                LSTM<double> l => l.Backward((LSTMResult<double>)result, dOut, dHn),
                GRU<double> g => g.Backward(result, dOut, dHn),
                RNN<double> r => r.Backward(result, dOut, dHn),
                _ => throw new InvalidOperationException(),
            };
            return (result.Output.ToArray(), hn[(hn.Length / 2)..], grads.DX.ToArray(), layer.Parameters().ToDictionary(p => p.Name, p => p.Grad.ToArray()));
        }
    }

    [Fact]
    public void GradNorm_OfParametersOnSeveralDevices_IsTheOneDeviceNorm_AndClipsEach()
    {
        var config = Config("sequence-to-one", "lstm", 2, 0, 0);
        using var reference = new SequenceNetwork<float>(Open("cpu")[0], config, seed: 6);
        using var pipelined = new PipelinedNetwork<float>(config, Open("cpu", "ilgpu-cpu"), seed: 6);
        var rng = new Random(3);
        foreach (var ((_, a), (_, b)) in reference.NamedParameters().Zip(pipelined.NamedParameters()))
        {
            var g = Enumerable.Range(0, (int)a.Grad.Length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            a.Grad.CopyFrom(g);
            b.Grad.CopyFrom(g);
        }

        var one = reference.NamedParameters().Select(p => p.Parameter).ToList();
        var two = pipelined.NamedParameters().Select(p => p.Parameter).ToList();
        Assert.Equal(GradientClipping.GradNorm(one), GradientClipping.GradNorm(two));
        double norm = GradientClipping.ClipGradNorm(two, 0.5);
        Assert.True(norm > 0.5);
        Assert.Equal(0.5, GradientClipping.GradNorm(two), 1e-5);
    }

    [Fact]
    public void Parameters_AreTheOneDeviceNetworks_BitForBit_OnTheirLayersDevices()
    {
        var config = Config("language-model", "lstm", 3, 2, 0.1);
        using var reference = new SequenceNetwork<float>(Open("cpu")[0], config, seed: 17);
        var placement = Open("cpu", "cpu", "cpu");
        using var pipelined = new PipelinedNetwork<float>(config, placement, seed: 17);
        var expected = reference.NamedParameters().ToList();
        var actual = pipelined.NamedParameters().ToList();
        Assert.Equal(expected.Select(p => p.Name), actual.Select(p => p.Name));
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i].Parameter.Value.ToArray(), actual[i].Parameter.Value.ToArray());
        Assert.Same(placement[0], pipelined.Embedding!.Device);
        Assert.Same(placement[2], pipelined.Fc.Device);
        for (int k = 0; k < 3; k++)
        {
            Assert.Same(placement[k], pipelined.Pipeline.Layers[k].Device);
            Assert.All(actual.Where(p => p.Name.Contains($"_l{k}", StringComparison.Ordinal)), p => Assert.Same(placement[k], p.Parameter.Value.Device));
        }
    }

    [Fact]
    public void Weights_LoadIntoEitherModel()
    {
        var config = Config("sequence-to-one", "gru", 2, 0, 0);
        using var reference = new SequenceNetwork<double>(Open("cpu")[0], config, seed: 1);
        using var pipelined = new PipelinedNetwork<double>(config, Open("cpu", "cpu"), seed: 2);
        foreach (var ((_, from), (_, to)) in reference.NamedParameters().Zip(pipelined.NamedParameters()))
            to.Value.CopyFrom(from.Value.ToArray());
        var x = Input<double>(config, B, T, 1);
        using var a = Tensor<double>.FromArray(reference.Device, x, B, T, I);
        using var b = Tensor<double>.FromArray(pipelined.Device, x, B, T, I);
        using var ya = reference.Forward(a);
        using var yb = pipelined.Forward(b);
        Assert.Equal(ya.ToArray(), yb.ToArray());
    }

    [Fact]
    public void Placement_WithTheWrongCount_Throws()
    {
        var config = Config("sequence-to-one", "lstm", 3, 0, 0);
        var e = Assert.Throws<LstmException>(() => new PipelinedNetwork<float>(config, Open("cpu", "cpu")));
        Assert.Contains("2 devices", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 layers", e.Message, StringComparison.Ordinal);
        var same = Open("cpu")[0];
        var twice = Assert.Throws<LstmException>(() => new PipelinedNetwork<float>(config with { NumLayers = 2 }, [same, same]));
        Assert.Contains("same", twice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OneDevice_IsTheSequenceNetwork()
    {
        var config = Config("sequence-to-one", "lstm", 2, 0, 0);
        using var one = SequenceNetwork<float>.Create(config, Open("cpu"));
        Assert.IsType<SequenceNetwork<float>>(one);
        using var two = SequenceNetwork<float>.Create(config, Open("cpu", "cpu"));
        Assert.IsType<PipelinedNetwork<float>>(two);
    }

    [Fact]
    public void Transfers_AreOneLayerOutputPerLinkEachWay()
    {
        var config = Config("sequence-to-sequence", "lstm", 3, 0, 0);
        using var pipelined = new PipelinedNetwork<float>(config, Open("cpu", "cpu", "cpu"), seed: 1);
        pipelined.Pipeline.ChunkSteps = 3;
        Run(pipelined, config, B, T);
        long perLink = (long)T * B * H * sizeof(float);
        Assert.Equal((2 * perLink, 2 * perLink), pipelined.Pipeline.LastTransferBytes);
        var plan = ExecutionPlan.ForTraining(config, ["cpu", "cpu", "cpu"], B, T, sizeof(float), OptimizerKind.Adam, chunkSteps: 3);
        Assert.Equal(2 * perLink, plan.Transfers.Sum(t => t.ForwardBytes));
        Assert.Equal(2 * perLink, plan.Transfers.Sum(t => t.BackwardBytes));
    }

    [Fact]
    public void Training_MatchesOneDevice_AndRerunsAreBitwiseIdentical()
    {
        var config = new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, InputSize: 2, HiddenSize: 8, OutputSize: 1, NumLayers: 2, Dropout: 0.3);
        var train = new AddingTask(9, 40, seed: 1);
        var options = new TrainerOptions
        {
            Steps = 8, BatchSize = 8, Optimizer = OptimizerKind.Adam, LearningRate = 1e-2, ClipNorm = 0.5, ValidateEvery = 100, Loss = LossKind.Mse, Seed = 4,
        };

        double[][] Train(Func<ISequenceModel<double>> create)
        {
            using var model = create();
            using var trainer = new Trainer<double>(model, train, null, options);
            trainer.Run();
            return [.. model.NamedParameters().Select(p => p.Parameter.Value.ToArray())];
        }

        var one = Train(() => new SequenceNetwork<double>(Open("cpu")[0], config, 5));
        PipelinedNetwork<double> Pipelined()
        {
            var m = new PipelinedNetwork<double>(config, Open("cpu", "cpu"), 5);
            m.Pipeline.ChunkSteps = 2;
            return m;
        }

        var first = Train(Pipelined);
        var second = Train(Pipelined);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(first[i], second[i]);
            double worst = one[i].Zip(first[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-10, $"parameter {i}: weights differ by {worst:E3} after 8 steps");
        }
    }
}
