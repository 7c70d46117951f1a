using BenchmarkDotNet.Attributes;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Bench;

/// <summary>
/// A GEMM the LSTM issues, C [M, N] = A [M, K] · W^T with W [N, K] (W_ih or W_hh, row-major as
/// PyTorch stores them): the input projection of all steps (M = T·B, N = 4H, K = I) or one
/// recurrent step (M = B, N = 4H, K = H); or, with <paramref name="WeightGradient"/>, the weight
/// gradient dW_ih [4H, I] = dgatesᵀ · x over all steps (A = dgates stored [T·B, 4H], W = x stored
/// [T·B, I]: M = 4H, N = I, K = T·B), few tiles and a long K.
/// </summary>
/// <param name="Name">xproj (the input projection), hproj (one recurrent step) or dw (the weight gradient), as the LSTM names their results.</param>
/// <param name="M">Rows of C.</param>
/// <param name="N">Columns of C.</param>
/// <param name="K">The reduced dimension.</param>
/// <param name="WeightGradient">A stored [K, M] and W stored [K, N] (op(A) = Aᵀ, op(W) = W) instead of A [M, K] and W [N, K].</param>
public sealed record GemmWorkload(string Name, int M, int N, int K, bool WeightGradient = false) : IWorkload, IComparable
{
    /// <summary>Orders cases by the work they do, smallest first (BenchmarkDotNet sorts parameters with it).</summary>
    /// <param name="obj">Another case.</param>
    public int CompareTo(object? obj) => obj is GemmWorkload other ? ((long)M * N * K, ToString()).CompareTo(((long)other.M * other.N * other.K, other.ToString())) : 1;

    /// <summary>The product's shape: dense, A·Wᵀ, or Aᵀ·W for the weight gradient.</summary>
    public GemmShape Shape => GemmShape.Dense(M, N, K, WeightGradient, !WeightGradient);

    /// <summary>The GEMMs of the default LSTM shapes' first layers, each once.</summary>
    public static IEnumerable<GemmWorkload> FromLstmShapes() =>
        BenchEnvironment.Shapes
            .SelectMany(s => new[]
            {
                new GemmWorkload("xproj", s.Seq * s.Batch, 4 * s.Hidden, s.Input),
                new GemmWorkload("hproj", s.Batch, 4 * s.Hidden, s.Hidden),
                new GemmWorkload("dw", 4 * s.Hidden, s.Input, s.Seq * s.Batch, WeightGradient: true),
            })
            .Distinct();

    /// <inheritdoc/>
    public double Flops(string method) => 2.0 * M * N * K;

    /// <inheritdoc/>
    public double Bytes(string method) => 4.0 * ((double)M * K + (double)N * K + (double)M * N);

    /// <summary><c>name MxNxK</c>.</summary>
    public override string ToString() => $"{Name} {M}x{N}x{K}";
}

/// <summary>An LSTM cell step's sizes, B batch and H hidden, with the bytes its fused kernels move.</summary>
/// <param name="Batch">B.</param>
/// <param name="Hidden">H.</param>
public sealed record CellWorkload(int Batch, int Hidden) : IWorkload, IComparable
{
    /// <summary>Orders cases by the work they do, smallest first (BenchmarkDotNet sorts parameters with it).</summary>
    /// <param name="obj">Another case.</param>
    public int CompareTo(object? obj) => obj is CellWorkload other ? ((long)Batch * Hidden, Hidden).CompareTo(((long)other.Batch * other.Hidden, other.Hidden)) : 1;

    /// <summary>(B, H) of each default LSTM shape.</summary>
    public static IEnumerable<CellWorkload> FromLstmShapes() =>
        BenchEnvironment.Shapes.Select(s => new CellWorkload(s.Batch, s.Hidden)).Distinct();

    /// <inheritdoc/>
    public double Flops(string method) => 0;

    /// <summary>
    /// Forward (training variant): reads xproj, hproj [B, 4H], b_ih, b_hh [4H], c_{t-1} [B, H];
    /// writes c_t, h_t [B, H] and the activations [B, 4H]: 4·(15·B·H + 8·H) bytes.
    /// Backward: reads dy, dh, dc, c_t, c_{t-1} [B, H] and the activations [B, 4H]; writes dc [B, H]
    /// and dgates [B, 4H]: 4·14·B·H bytes.
    /// </summary>
    /// <param name="method">CellForward or CellBackward.</param>
    public double Bytes(string method)
    {
        double bh = (double)Batch * Hidden;
        return method.Contains("Backward", StringComparison.Ordinal) ? 4.0 * 14 * bh : 4.0 * (15 * bh + 8.0 * Hidden);
    }

    /// <summary><c>B=.. H=..</c>.</summary>
    public override string ToString() => $"B={Batch} H={Hidden}";
}

/// <summary>
/// The LSTM's GEMMs, float32, each call synchronized, by every algorithm in one run: the ILGPU
/// kernels on <see cref="IlgpuDevice"/> (RowDot the baseline, the simplest kernel and the one
/// every other but split-K must equal bit for bit), and the <c>cpu</c> device's packed GEMM beside
/// them. <see cref="SplitK"/> is the opt-in FP32 split-K: it splits the products whose tiles are
/// too few for the device's multiprocessors (the weight gradient on a GPU) and runs the others as
/// <see cref="Blocked"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class GemmBenchmarks
{
    private readonly Dictionary<string, Operands> _operands = new(StringComparer.Ordinal);

    /// <summary>The GEMM cases.</summary>
    public static IEnumerable<GemmWorkload> Cases() => GemmWorkload.FromLstmShapes();

    /// <summary>The case.</summary>
    [ParamsSource(nameof(Cases))]
    public GemmWorkload Shape { get; set; } = null!;

    /// <summary>The ILGPU device the kernels run on: LSTM_BENCH_DEVICE when it names one, else ilgpu-cpu.</summary>
    public static string IlgpuDevice => BenchEnvironment.DeviceName is "cpu" or "auto" ? "ilgpu-cpu" : BenchEnvironment.DeviceName;

    /// <summary>Opens the device of the algorithm each benchmark runs and fills A and W with values in [-1, 1).</summary>
    [GlobalSetup(Target = nameof(RowDot))]
    public void SetupRowDot() => Setup(nameof(RowDot), IlgpuDevice, GemmAlgorithm.RowDot);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(Tiled))]
    public void SetupTiled() => Setup(nameof(Tiled), IlgpuDevice, GemmAlgorithm.Tiled);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(Blocked))]
    public void SetupBlocked() => Setup(nameof(Blocked), IlgpuDevice, GemmAlgorithm.Blocked);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(Blocked128))]
    public void SetupBlocked128() => Setup(nameof(Blocked128), IlgpuDevice, GemmAlgorithm.Blocked128);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(Blocked64))]
    public void SetupBlocked64() => Setup(nameof(Blocked64), IlgpuDevice, GemmAlgorithm.Blocked64);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(FewRow))]
    public void SetupFewRow() => Setup(nameof(FewRow), IlgpuDevice, GemmAlgorithm.FewRow);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(SplitK))]
    public void SetupSplitK() => Setup(nameof(SplitK), IlgpuDevice, GemmAlgorithm.SplitK);

    /// <summary>See <see cref="SetupRowDot"/>.</summary>
    [GlobalSetup(Target = nameof(CpuPacked))]
    public void SetupCpuPacked() => Setup(nameof(CpuPacked), "cpu", null);

    /// <summary>C = A · W^T, one thread per output (the ILGPU CPU accelerator's kernel).</summary>
    [Benchmark(Baseline = true)]
    public void RowDot() => Run(nameof(RowDot));

    /// <summary>16×16 shared-memory tiles.</summary>
    [Benchmark]
    public void Tiled() => Run(nameof(Tiled));

    /// <summary>The register-blocked family, the kernel chosen per shape (the default on CUDA and OpenCL).</summary>
    [Benchmark]
    public void Blocked() => Run(nameof(Blocked));

    /// <summary>The 128×128 block tile, 8×8 outputs per thread.</summary>
    [Benchmark]
    public void Blocked128() => Run(nameof(Blocked128));

    /// <summary>The 64×64 block tile, 4×4 outputs per thread.</summary>
    [Benchmark]
    public void Blocked64() => Run(nameof(Blocked64));

    /// <summary>A warp per weight row, for products of few rows.</summary>
    [Benchmark]
    public void FewRow() => Run(nameof(FewRow));

    /// <summary>Blocked, with split-K at FP32 where the product's 64×64 tiles are too few to fill the device (sums not in k order).</summary>
    [Benchmark]
    public void SplitK() => Run(nameof(SplitK));

    /// <summary>The <c>cpu</c> device's packed, register-blocked GEMM on every core.</summary>
    [Benchmark]
    public void CpuPacked() => Run(nameof(CpuPacked));

    /// <summary>Frees the buffers and the devices.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var o in _operands.Values)
            o.Dispose();
        _operands.Clear();
    }

    private void Setup(string name, string device, GemmAlgorithm? algorithm)
    {
        var opened = ComputeDevice.Open(device, algorithm);
        var ops = opened.Ops<float>();
        var rng = new Random(1);
        var o = new Operands(opened, ops, Random(ops, rng, (long)Shape.M * Shape.K), Random(ops, rng, (long)Shape.N * Shape.K), ops.Allocate((long)Shape.M * Shape.N));
        ops.Synchronize();
        _operands[name] = o;
    }

    private void Run(string name)
    {
        var o = _operands[name];
        o.Ops.Gemm(Shape.Shape, 1f, o.A.All, o.W.All, 0f, o.C.All);
        o.Ops.Synchronize();
    }

    private static DeviceBuffer<float> Random(IDeviceOps<float> ops, Random rng, long n)
    {
        var host = new float[n];
        for (long i = 0; i < n; i++)
            host[i] = (float)(rng.NextDouble() * 2 - 1);
        var buffer = ops.Allocate(n);
        ops.Upload(host, buffer.All);
        return buffer;
    }

    private sealed record Operands(ComputeDevice Device, IDeviceOps<float> Ops, DeviceBuffer<float> A, DeviceBuffer<float> W, DeviceBuffer<float> C) : IDisposable
    {
        public void Dispose()
        {
            C.Dispose();
            W.Dispose();
            A.Dispose();
            Device.Dispose();
        }
    }
}

/// <summary>The fused LSTM cell kernels (forward training variant, backward) on <see cref="BenchEnvironment.DeviceName"/>, float32.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class LstmCellBenchmarks
{
    private ComputeDevice? _device;
    private IDeviceOps<float> _ops = null!;
    private readonly List<DeviceBuffer<float>> _buffers = [];
    private DeviceBuffer<float> _xproj = null!, _hproj = null!, _bih = null!, _bhh = null!, _cPrev = null!, _c = null!, _h = null!, _acts = null!;
    private DeviceBuffer<float> _dy = null!, _dh = null!, _dc = null!, _dgates = null!;

    /// <summary>The (B, H) cases.</summary>
    public static IEnumerable<CellWorkload> Cases() => CellWorkload.FromLstmShapes();

    /// <summary>The case.</summary>
    [ParamsSource(nameof(Cases))]
    public CellWorkload Shape { get; set; } = null!;

    /// <summary>The device (LSTM_BENCH_DEVICE, default cpu).</summary>
    [ParamsSource(typeof(BenchEnvironment), nameof(BenchEnvironment.DeviceNames))]
    public string Device { get; set; } = BenchEnvironment.DefaultDevice;

    /// <summary>Opens the device, fills the inputs and runs one forward so the activations are real.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = ComputeDevice.Open(Device);
        _ops = _device.Ops<float>();
        var rng = new Random(2);
        long bh = (long)Shape.Batch * Shape.Hidden;
        long g = 4 * bh;
        _xproj = Random(rng, g);
        _hproj = Random(rng, g);
        _bih = Random(rng, 4L * Shape.Hidden);
        _bhh = Random(rng, 4L * Shape.Hidden);
        _cPrev = Random(rng, bh);
        _c = Random(rng, bh);
        _h = Random(rng, bh);
        _acts = Random(rng, g);
        _dy = Random(rng, bh);
        _dh = Random(rng, bh);
        _dc = Random(rng, bh);
        _dgates = Random(rng, g);
        CellForward();
    }

    private DeviceBuffer<float> Random(Random rng, long n)
    {
        var host = new float[n];
        for (long i = 0; i < n; i++)
            host[i] = (float)(rng.NextDouble() * 2 - 1);
        var buffer = _ops.Allocate(n);
        _ops.Upload(host, buffer.All);
        _buffers.Add(buffer);
        return buffer;
    }

    /// <summary>One forward step, training variant (stores the activations).</summary>
    [Benchmark]
    public void CellForward()
    {
        _ops.LstmCellForward(Shape.Batch, Shape.Hidden, _xproj.All, _hproj.All, _bih.All, _bhh.All, _cPrev.All, _c.All, _h.All, _acts.All);
        _ops.Synchronize();
    }

    /// <summary>One backward step (dc is updated in place, so its values drift; the work per call does not).</summary>
    [Benchmark]
    public void CellBackward()
    {
        _ops.LstmCellBackward(Shape.Batch, Shape.Hidden, _dy.All, _dh.All, _dc.All, _acts.All, _c.All, _cPrev.All, _dgates.All);
        _ops.Synchronize();
    }

    /// <summary>Frees the buffers and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var b in _buffers)
            b.Dispose();
        _buffers.Clear();
        _device?.Dispose();
    }
}
