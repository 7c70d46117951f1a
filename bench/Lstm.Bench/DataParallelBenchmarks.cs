using BenchmarkDotNet.Attributes;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Training;

namespace Lstm.Bench;

/// <summary>
/// One training step (forward, MSE loss, backward, clipping, Adam) of a sequence-to-one LSTM through
/// <see cref="Trainer{T}"/>, float32: on one <c>cpu</c> device (the baseline) against data parallel
/// on two <c>cpu</c> devices with equal shards (<c>--devices cpu,cpu --shards B/2,B/2</c>), so the
/// ratio is what the replicas, their threads, the gradient reduction and the weight broadcast gain or cost.
/// A third case, one device at half the batch, is the work of one replica alone.
/// </summary>
[MemoryDiagnoser]
public class DataParallelBenchmarks
{
    private ComputeDevice[] _devices = [];
    private SequenceNetwork<float>[] _models = [];
    private Trainer<float>? _trainer;

    /// <summary>B,T,I,H,L.</summary>
    [Params("32,50,16,128,2", "64,50,32,256,2")]
    public string Shape { get; set; } = "32,50,16,128,2";

    /// <summary>One <c>cpu</c> device.</summary>
    [GlobalSetup(Target = nameof(OneDevice))]
    public void SetupOne() => Setup(1);

    /// <summary>Two <c>cpu</c> devices, half the batch each.</summary>
    [GlobalSetup(Target = nameof(TwoCpuDevices))]
    public void SetupTwo() => Setup(2);

    /// <summary>One <c>cpu</c> device, half the batch.</summary>
    [GlobalSetup(Target = nameof(OneDeviceHalfBatch))]
    public void SetupHalf() => Setup(1, half: true);

    /// <summary>A step on one device.</summary>
    [Benchmark(Baseline = true)]
    public void OneDevice() => _trainer!.Run(_trainer.Step + 1);

    /// <summary>A data-parallel step on two devices.</summary>
    [Benchmark]
    public void TwoCpuDevices() => _trainer!.Run(_trainer.Step + 1);

    /// <summary>A step on one device at half the batch (one replica's share).</summary>
    [Benchmark]
    public void OneDeviceHalfBatch() => _trainer!.Run(_trainer.Step + 1);

    /// <summary>Frees the trainer, the models and the devices.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _trainer?.Dispose();
        foreach (var m in _models)
            m.Dispose();
        foreach (var d in _devices)
            d.Dispose();
    }

    private void Setup(int replicas, bool half = false)
    {
        var s = LstmBenchShape.Parse(Shape);
        if (half)
            s = s with { Batch = s.Batch / 2 };
        _devices = Enumerable.Range(0, replicas).Select(_ => ComputeDevice.Open(ComputeDevice.CpuName)).ToArray();
        var config = new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, s.Input, s.Hidden, OutputSize: 1, s.Layers);
        _models = _devices.Select(d => new SequenceNetwork<float>(d, config, seed: 1)).ToArray();
        var data = new RandomSequences(4 * s.Batch, s.Seq, s.Input);
        var options = new TrainerOptions
        {
            Steps = int.MaxValue, BatchSize = s.Batch, ClipNorm = 1, Seed = 1,
            Shards = replicas == 1 ? null : Enumerable.Repeat(s.Batch / replicas, replicas).ToArray(),
        };
        _trainer = new Trainer<float>(_models, data, null, options);
    }

    /// <summary>Uniform inputs in [-1, 1] and targets from a fixed seed.</summary>
    private sealed class RandomSequences(int count, int steps, int inputSize) : ISequenceDataset
    {
        public int Count => count;

        public int Steps => steps;

        public int InputSize => inputSize;

        public int TargetLength => 1;

        public void Fill(int index, Span<double> x, Span<double> y)
        {
            var rng = new Random(index);
            for (int i = 0; i < x.Length; i++)
                x[i] = 2 * rng.NextDouble() - 1;
            y[0] = rng.NextDouble();
        }
    }
}
