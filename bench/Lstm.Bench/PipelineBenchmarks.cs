using BenchmarkDotNet.Attributes;
using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Bench;

/// <summary>
/// A training step (forward + backward of a fixed dy, gradients zeroed first) of a 2-layer LSTM
/// sequence-to-sequence network, float32: on one <c>cpu</c> device (the baseline) against the
/// same network placed over two <c>cpu</c> devices (<see cref="PipelinedNetwork{T}"/>), with the
/// default chunk length and with one chunk of the whole sequence (no overlap: the cost of the
/// threads and host transfers alone).
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private readonly List<ComputeDevice> _devices = [];
    private ISequenceModel<float>? _model;
    private Tensor<float>? _x;
    private Tensor<float>? _dy;

    /// <summary>B, T, I, H (two layers, output 1 per step).</summary>
    [Params("8,50,16,64", "32,100,64,256")]
    public string Shape { get; set; } = "8,50,16,64";

    private int[] Sizes => [.. Shape.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    /// <summary>The one-device network.</summary>
    [GlobalSetup(Target = nameof(OneDevice))]
    public void SetupOne() => Setup(1, 0);

    /// <summary>Two cpu devices, default chunks.</summary>
    [GlobalSetup(Target = nameof(Pipeline))]
    public void SetupPipeline() => Setup(2, 0);

    /// <summary>Two cpu devices, one chunk.</summary>
    [GlobalSetup(Target = nameof(PipelineOneChunk))]
    public void SetupOneChunk() => Setup(2, Sizes[1]);

    /// <summary>One cpu device.</summary>
    [Benchmark(Baseline = true)]
    public void OneDevice() => Step();

    /// <summary>[cpu, cpu], chunks of ⌈T/8⌉ steps.</summary>
    [Benchmark]
    public void Pipeline() => Step();

    /// <summary>[cpu, cpu], one chunk of T steps.</summary>
    [Benchmark]
    public void PipelineOneChunk() => Step();

    /// <summary>Frees the model and devices.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _x?.Dispose();
        _dy?.Dispose();
        foreach (var d in _devices)
            d.Dispose();
        _devices.Clear();
        _model = null;
    }

    private void Setup(int devices, int chunk)
    {
        var s = Sizes;
        int b = s[0], t = s[1], i = s[2], h = s[3];
        for (int k = 0; k < devices; k++)
            _devices.Add(ComputeDevice.Open("cpu"));
        var config = new ModelConfig(ModelKind.SequenceToSequence, CellKind.Lstm, i, h, 1, NumLayers: 2);
        _model = SequenceNetwork<float>.Create(config, _devices, seed: 1);
        if (_model is PipelinedNetwork<float> p)
            p.Pipeline.ChunkSteps = chunk;
        var rng = new Random(1);
        _x = Tensor<float>.FromArray(_model.Device, [.. Enumerable.Range(0, b * t * i).Select(_ => (float)(rng.NextDouble() * 2 - 1))], b, t, i);
        _dy = Tensor<float>.FromArray(_model.Device, [.. Enumerable.Range(0, b * t).Select(_ => 1f / (b * t))], b * t, 1);
    }

    private void Step()
    {
        _model!.ZeroGrad();
        using var y = _model.Forward(_x!, training: true);
        _model.Backward(_dy!);
    }
}
