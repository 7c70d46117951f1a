using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Bench;

/// <summary>
/// The wavefront over layers on one device: a stacked one-direction <see cref="LSTM{T}"/>
/// (float32, x [T, B, I]) run layer after layer (the baseline) against the same layer object with
/// <see cref="RecurrentLayer{T}.Wavefront"/> on (blocks of ⌈T / 8⌉ steps), for inference and a
/// training step (forward + backward of <c>output.sum()</c>). Both give the same bits.
/// </summary>
/// <remarks>The device is <c>LSTM_BENCH_DEVICE</c> (default <c>cpu</c>), as for <see cref="LstmBenchmarks"/>.</remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class WavefrontBenchmarks
{
    private ComputeDevice? _device;
    private LSTM<float>? _lstm;
    private Tensor<float>? _x;
    private Tensor<float>? _dy;

    /// <summary>B, T, I, H, L.</summary>
    [Params("5,50,10,20,2", "32,100,128,256,2", "16,100,256,256,3", "8,100,64,128,3")]
    public string Shape { get; set; } = "5,50,10,20,2";

    private int[] Sizes => [.. Shape.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    /// <summary>Opens the device and builds the layer and its inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var s = Sizes;
        int b = s[0], t = s[1], i = s[2], h = s[3], layers = s[4];
        _device = ComputeDevice.Open(BenchEnvironment.DeviceName);
        _lstm = new LSTM<float>(_device, new LSTMOptions(InputSize: i, HiddenSize: h, NumLayers: layers));
        var rng = new Random(1);
        _x = Tensor<float>.FromArray(_device, [.. Enumerable.Range(0, t * b * i).Select(_ => (float)(rng.NextDouble() * 2 - 1))], t, b, i);
        _dy = Tensor<float>.FromArray(_device, [.. Enumerable.Repeat(1f, t * b * h)], t, b, h);
    }

    /// <summary>Inference, layer after layer.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("inference")]
    public void InferenceLayerAfterLayer() => Infer(false);

    /// <summary>Inference, wavefront.</summary>
    [Benchmark, BenchmarkCategory("inference")]
    public void InferenceWavefront() => Infer(true);

    /// <summary>Training step, layer after layer.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("training")]
    public void TrainingLayerAfterLayer() => Train(false);

    /// <summary>Training step, wavefront.</summary>
    [Benchmark, BenchmarkCategory("training")]
    public void TrainingWavefront() => Train(true);

    /// <summary>Frees the layer, tensors and device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _lstm?.Dispose();
        _x?.Dispose();
        _dy?.Dispose();
        _device?.Dispose();
    }

    private void Infer(bool wavefront)
    {
        _lstm!.Wavefront = wavefront;
        using var result = _lstm.Forward(_x!);
        _device!.Synchronize();
    }

    private void Train(bool wavefront)
    {
        _lstm!.Wavefront = wavefront;
        _lstm.ZeroGrad();
        using var result = _lstm.Forward(_x!, training: true);
        using var grads = _lstm.Backward(result, dOutput: _dy);
        _device!.Synchronize();
    }
}
