using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Bench;

/// <summary>An LSTM shape as a benchmark parameter, with torch_lstm_bench.py's FLOP count.</summary>
/// <param name="Shape">B, T, I, H, L.</param>
public sealed record LstmWorkload(LstmBenchShape Shape) : IWorkload, IComparable
{
    /// <summary>Orders cases by the work they do, smallest first (BenchmarkDotNet sorts parameters with it).</summary>
    /// <param name="obj">Another case.</param>
    public int CompareTo(object? obj) => obj is LstmWorkload other ? (Shape.InferenceFlops, Shape.ToString()).CompareTo((other.Shape.InferenceFlops, other.Shape.ToString())) : 1;

    /// <inheritdoc/>
    public double Flops(string method) =>
        Shape.Flops(method.Contains("Training", StringComparison.Ordinal) ? LstmBenchMode.Training : LstmBenchMode.Inference);

    /// <inheritdoc/>
    public double Bytes(string method) => 0;

    /// <summary><c>batch,seq,input,hidden,layers</c>.</summary>
    public override string ToString() => Shape.ToString();
}

/// <summary>
/// Whole LSTMs, float32, batch_first: ours on <see cref="BenchEnvironment.DeviceName"/> against PyTorch's
/// <c>nn.LSTM</c> (libtorch on the CPU, as many threads as cores) as the baseline of each category
/// (inference; training = forward + backward of <c>output.sum()</c>), so every ratio comes from one run.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class LstmBenchmarks
{
    private LstmBenchmark? _ours;
    private ComputeDevice? _device;
    private TorchLstmPeer? _torch;

    /// <summary>The shapes (batch, steps, input, hidden, layers).</summary>
    public static IEnumerable<LstmWorkload> Shapes() => BenchEnvironment.Shapes.Select(s => new LstmWorkload(s));

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public LstmWorkload Shape { get; set; } = null!;

    /// <summary>Our device (LSTM_BENCH_DEVICE, default cpu); PyTorch always runs on the CPU.</summary>
    [ParamsSource(typeof(BenchEnvironment), nameof(BenchEnvironment.DeviceNames))]
    public string Device { get; set; } = BenchEnvironment.DefaultDevice;

    /// <summary>
    /// The precision of our device's float32 products (LSTM_BENCH_PRECISION, default fp32); PyTorch
    /// always multiplies in float32, so each value has its own baseline and ratio.
    /// </summary>
    [ParamsSource(typeof(BenchEnvironment), nameof(BenchEnvironment.PrecisionNames))]
    public string Precision { get; set; } = "fp32";

    /// <summary>Builds PyTorch's LSTM.</summary>
    [GlobalSetup(Targets = [nameof(TorchInference), nameof(TorchTraining)])]
    public void SetupTorch() => _torch = new TorchLstmPeer(Shape.Shape);

    /// <summary>Opens the device and builds ours.</summary>
    [GlobalSetup(Targets = [nameof(OursInference), nameof(OursTraining)])]
    public void SetupOurs()
    {
        _device = ComputeDevice.Open(Device, PrecisionNames.Parse(Precision));
        _ours = new LstmBenchmark(_device, Shape.Shape);
    }

    /// <summary>PyTorch, forward under no_grad.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("inference")]
    public void TorchInference() => _torch!.Inference();

    /// <summary>Ours, forward storing nothing.</summary>
    [Benchmark, BenchmarkCategory("inference")]
    public void OursInference() => _ours!.Inference();

    /// <summary>PyTorch, forward + backward.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("training")]
    public void TorchTraining() => _torch!.TrainingStep();

    /// <summary>Ours, forward + backward.</summary>
    [Benchmark, BenchmarkCategory("training")]
    public void OursTraining() => _ours!.TrainingStep();

    /// <summary>Frees both sides.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torch?.Dispose();
        _ours?.Dispose();
        _device?.Dispose();
        _torch = null;
        _ours = null;
        _device = null;
    }
}
