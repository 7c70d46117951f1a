using CommandLine;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Cli;

/// <summary>What <c>lstm bench</c> times.</summary>
public enum BenchModeOption
{
    /// <summary>Forward passes only.</summary>
    Inference,

    /// <summary>Training steps only (forward + backward).</summary>
    Training,

    /// <summary>Both, inference first.</summary>
    Both,
}

/// <summary><c>lstm bench</c>.</summary>
[Verb("bench", HelpText = "Time LSTM inference and training steps on a device (warm-up, then the median of repeats) and print ms and GFLOP/s per shape.")]
public sealed class BenchOptions
{
    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cpu, cuda[:N], opencl[:N] or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;

    /// <summary>The arithmetic of float32 matrix products.</summary>
    [Option("precision", Default = PrecisionNames.Default, HelpText = "Float32 matrix products: fp32 (exact, the default), tf32 (PyTorch's allow_tf32), 3xtf32 (TF32 tensor cores at near-FP32 accuracy) or bf16; tensor cores on CUDA (compute capability 8.0+), the same rounding emulated elsewhere.")]
    public string Precision { get; set; } = PrecisionNames.Default;

    /// <summary>Where to write the records as JSON lines.</summary>
    [Option("json", HelpText = "Also write one JSON object per shape and mode to this file (torch_lstm_bench.py's fields).")]
    public string? Json { get; set; }

    /// <summary>Inference, training or both.</summary>
    [Option("mode", Default = BenchModeOption.Both, HelpText = "inference, training or both.")]
    public BenchModeOption Mode { get; set; } = BenchModeOption.Both;

    /// <summary>Timed repeats per shape and mode.</summary>
    [Option("repeats", Default = BenchSettings.DefaultRepeats, HelpText = "Timed runs per shape and mode; the median is reported.")]
    public int Repeats { get; set; } = BenchSettings.DefaultRepeats;

    /// <summary>Untimed runs first.</summary>
    [Option("warmup", Default = BenchSettings.DefaultWarmup, HelpText = "Untimed runs per shape and mode before timing (they include the kernels' JIT); with N > 0, warm-up also lasts at least one second, so .NET's tiered JIT has optimized the host code before timing.")]
    public int Warmup { get; set; } = BenchSettings.DefaultWarmup;

    /// <summary>Time matrix products instead of whole LSTMs.</summary>
    [Option("gemm", HelpText = "Time float32 matrix products instead: the four products of layer 0 of each LSTM shape (input projection, recurrent step, weight and input gradients) and 4096x4096x4096, or --gemm-shapes; prints the kernel, ms and TFLOP/s (bench/gpu/torch_gemm_bench.py times torch.matmul at the same shapes).")]
    public bool Gemm { get; set; }

    /// <summary>Products to time with <c>--gemm</c>.</summary>
    [Option("gemm-shapes", HelpText = "With --gemm: products as M,N,K or M,N,K,TA,TB (space-separated; TA/TB 1 when A/B is stored transposed).")]
    public IEnumerable<string> GemmShapes { get; set; } = [];

    /// <summary>Shapes instead of the defaults.</summary>
    [Option("shapes", HelpText = "Shapes as batch,seq,input,hidden,layers (space-separated); default: 5,50,10,20,2 1,500,128,256,1 32,100,128,256,1 64,100,256,512,2 16,200,512,1024,1.")]
    public IEnumerable<string> Shapes { get; set; } = [];
}
