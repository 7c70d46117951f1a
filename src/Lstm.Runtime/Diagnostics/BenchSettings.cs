using Lstm.Kernels.Gemm;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Diagnostics;

/// <summary>
/// The settings of <c>lstm bench</c>: LSTM shapes (or matrix products with <see cref="Gemm"/>),
/// modes, warm-up and repeats. The constants are the defaults; <see cref="Resolve"/> holds the
/// rules and gives what to time.
/// </summary>
public sealed record BenchSettings
{
    /// <summary>The default timed runs per shape and mode.</summary>
    public const int DefaultRepeats = 20;

    /// <summary>The default untimed runs per shape and mode.</summary>
    public const int DefaultWarmup = 3;

    /// <summary>With any warm-up runs, warm-up lasts at least this long, so .NET's tiered JIT has optimized the host code before timing.</summary>
    public const int MinWarmupMilliseconds = 1000;

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The name of the float32 products' precision.</summary>
    public string Precision { get; init; } = PrecisionNames.Default;

    /// <summary>The modes to time, in order.</summary>
    public IReadOnlyList<LstmBenchMode> Modes { get; init; } = [LstmBenchMode.Inference, LstmBenchMode.Training];

    /// <summary>Timed runs per shape and mode (the median is reported).</summary>
    public int Repeats { get; init; } = DefaultRepeats;

    /// <summary>Untimed runs per shape and mode before timing.</summary>
    public int Warmup { get; init; } = DefaultWarmup;

    /// <summary>A file to write the records to as JSON lines, or null.</summary>
    public string? Json { get; init; }

    /// <summary>Time matrix products instead of whole LSTMs.</summary>
    public bool Gemm { get; init; }

    /// <summary>With <see cref="Gemm"/>: products as M,N,K or M,N,K,TA,TB; empty: those of each LSTM shape and 4096³.</summary>
    public IReadOnlyList<string> GemmShapes { get; init; } = [];

    /// <summary>LSTM shapes as batch,seq,input,hidden,layers; empty: <see cref="LstmBenchShape.Defaults"/>.</summary>
    public IReadOnlyList<string> Shapes { get; init; } = [];

    /// <summary>The least warm-up time: <see cref="MinWarmupMilliseconds"/> with any warm-up runs, else 0.</summary>
    public int MinWarmupMs => Warmup > 0 ? MinWarmupMilliseconds : 0;

    /// <summary>Checks every value and reads the shapes and the precision.</summary>
    /// <exception cref="LstmException">A bad value; the message names its option.</exception>
    public BenchPlan Resolve()
    {
        if (Repeats < 1)
            throw new LstmException($"--repeats {Repeats}: must be at least 1");
        if (Warmup < 0)
            throw new LstmException($"--warmup {Warmup}: must be 0 or more");
        var shapes = Shapes.Count > 0 ? Shapes.Select(LstmBenchShape.Parse).ToList() : LstmBenchShape.Defaults.ToList();
        if (GemmShapes.Count > 0 && !Gemm)
            throw new LstmException("--gemm-shapes: needs --gemm");
        List<GemmBenchShape> gemms = !Gemm ? []
            : GemmShapes.Count > 0 ? GemmShapes.Select(GemmBenchShape.Parse).ToList()
            : shapes.SelectMany(GemmBenchShape.OfLstm).Append(GemmBenchShape.Square4096).Distinct().ToList();
        return new BenchPlan(shapes, gemms, PrecisionNames.ParseOption(Precision));
    }
}

/// <summary>What <c>lstm bench</c> times, checked.</summary>
/// <param name="Shapes">The LSTM shapes.</param>
/// <param name="Gemms">The matrix products (with <c>--gemm</c>), else empty.</param>
/// <param name="Precision">The float32 products' precision.</param>
public sealed record BenchPlan(IReadOnlyList<LstmBenchShape> Shapes, IReadOnlyList<GemmBenchShape> Gemms, GemmPrecision Precision)
{
    /// <summary>" with tf32 products" and the like; nothing for fp32.</summary>
    /// <param name="precision">The precision.</param>
    public static string PrecisionNote(GemmPrecision precision) =>
        precision == GemmPrecision.Fp32 ? "" : $" with {PrecisionNames.Name(precision)} products";

    /// <summary>
    /// <c># gemm B,T,I,H,L: input projection KERNEL (M×N×K), recurrent KERNEL (M×N×K)</c>: the
    /// float32 kernels of the input projection over all steps, [T·B, 4H] = x·W_ihᵀ (layer 0; the
    /// layers above run the same kernel, K = H), and of one step's recurrent product,
    /// [B, 4H] = h·W_hhᵀ.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="shape">The LSTM shape.</param>
    public static string GemmLine(ComputeDevice device, LstmBenchShape shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(shape);
        int gates = 4 * shape.Hidden;
        var input = GemmShape.Dense(shape.Batch * shape.Seq, gates, shape.Input, false, true);
        var recurrent = GemmShape.Dense(shape.Batch, gates, shape.Hidden, false, true);
        return $"# gemm {shape}: input projection {device.GemmKernelFor(input)} ({input.M}x{input.N}x{input.K}), " +
               $"recurrent {device.GemmKernelFor(recurrent)} ({recurrent.M}x{recurrent.N}x{recurrent.K})";
    }
}
