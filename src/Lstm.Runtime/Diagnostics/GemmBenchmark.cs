using System.Globalization;
using System.Text;
using System.Text.Json;
using Lstm.Kernels;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Diagnostics;

/// <summary>
/// A float32 matrix product to time: C[M, N] = op(A)·op(B), op(A) [M, K] (A stored [K, M] when
/// <paramref name="TransA"/>), op(B) [K, N] (B stored [N, K] when <paramref name="TransB"/>), dense
/// row-major operands: bench/gpu/torch_gemm_bench.py's shapes.
/// </summary>
/// <param name="M">Rows of C.</param>
/// <param name="N">Columns of C.</param>
/// <param name="K">The inner dimension.</param>
/// <param name="TransA">A is stored transposed.</param>
/// <param name="TransB">B is stored transposed.</param>
public sealed record GemmBenchShape(int M, int N, int K, bool TransA, bool TransB)
{
    /// <summary>The kernel's view of it: dense leading dimensions.</summary>
    public GemmShape Shape => GemmShape.Dense(M, N, K, TransA, TransB);

    /// <summary>2·M·N·K.</summary>
    public double Flops => 2.0 * M * N * K;

    /// <summary>
    /// The four products of an LSTM layer 0 at <paramref name="lstm"/>'s shape (B batch, T steps,
    /// I input, H hidden): the input projection of all steps [T·B, 4H] = x·W_ihᵀ, one step's
    /// recurrent product [B, 4H] = h·W_hhᵀ, and in training the weight gradient
    /// [4H, I] = dgatesᵀ·x and the input gradient [T·B, I] = dgates·W_ih.
    /// </summary>
    /// <param name="lstm">The LSTM shape.</param>
    public static IEnumerable<GemmBenchShape> OfLstm(LstmBenchShape lstm)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        int rows = lstm.Batch * lstm.Seq, gates = 4 * lstm.Hidden;
        yield return new(rows, gates, lstm.Input, false, true);
        yield return new(lstm.Batch, gates, lstm.Hidden, false, true);
        yield return new(gates, lstm.Input, rows, true, false);
        yield return new(rows, lstm.Input, gates, false, false);
    }

    /// <summary>The square product every GEMM library is quoted at.</summary>
    public static GemmBenchShape Square4096 { get; } = new(4096, 4096, 4096, false, false);

    /// <summary>Parses <c>M,N,K</c> or <c>M,N,K,TA,TB</c> (TA, TB: 0 or 1).</summary>
    /// <param name="text">For example <c>6400,2048,256,0,1</c>.</param>
    /// <exception cref="LstmException">Not three positive integers, optionally followed by two flags.</exception>
    public static GemmBenchShape Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var v = new int[parts.Length];
        bool ok = parts.Length is 3 or 5;
        for (int i = 0; ok && i < parts.Length; i++)
            ok = int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out v[i]) && (i < 3 ? v[i] > 0 : v[i] <= 1);
        if (!ok)
            throw new LstmException($"GEMM shape '{text}': expected M,N,K or M,N,K,TA,TB (M, N, K positive; TA, TB 0 or 1), e.g. 6400,2048,256,0,1");
        return new GemmBenchShape(v[0], v[1], v[2], parts.Length == 5 && v[3] == 1, parts.Length == 5 && v[4] == 1);
    }

    /// <summary><c>M,N,K,TA,TB</c>, the form <see cref="Parse"/> reads.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{M},{N},{K},{(TransA ? 1 : 0)},{(TransB ? 1 : 0)}");
}

/// <summary>One GEMM timing, with bench/gpu/torch_gemm_bench.py's field names.</summary>
/// <param name="Device">The device's own description.</param>
/// <param name="Backend">The device name it was opened by.</param>
/// <param name="Shape">The product.</param>
/// <param name="Kernel">The kernel that ran it.</param>
/// <param name="Precision">The arithmetic of the product.</param>
/// <param name="MedianMs">Median wall time of one product, in milliseconds.</param>
/// <param name="Repeats">Timed repeats.</param>
public sealed record GemmBenchRecord(string Device, string Backend, GemmBenchShape Shape, GemmAlgorithm Kernel, GemmPrecision Precision, double MedianMs, int Repeats)
{
    /// <summary>How the product ran: the kernel and, for split-K, its slices and the partials' kernel (one slice when not split).</summary>
    public GemmPlan Plan { get; init; } = new(Kernel, 1, Shape?.K ?? 0, Kernel);

    /// <summary>FLOPs per second, in units of 10^12.</summary>
    public double TFlops => MedianMs > 0 ? Shape.Flops / (MedianMs * 1e-3) / 1e12 : 0;

    /// <summary>One JSON object on one line.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("peer", LstmBenchmark.PeerName);
            w.WriteString("precision", PrecisionNames.Name(Precision));
            w.WriteNumber("m", Shape.M);
            w.WriteNumber("n", Shape.N);
            w.WriteNumber("k", Shape.K);
            w.WriteNumber("transa", Shape.TransA ? 1 : 0);
            w.WriteNumber("transb", Shape.TransB ? 1 : 0);
            w.WriteString("kernel", Kernel.ToString());
            w.WriteNumber("splits", Plan.Splits);
            if (Plan.Splits > 1)
                w.WriteString("partial", Plan.Partial.ToString());
            w.WriteNumber("median_ms", Math.Round(MedianMs, 4));
            w.WriteNumber("tflops", Math.Round(TFlops, 3));
            w.WriteNumber("repeats", Repeats);
            w.WriteString("device", Device);
            w.WriteString("backend", Backend);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The header of <see cref="FormatRow"/>'s table.</summary>
    public static string Header => $"{"M",6} {"N",6} {"K",6} TA TB {"kernel",-24} {"ms",10} {"TFLOP/s",8}";

    /// <summary>One row: the shape, the kernel (split-K with its slices and partial kernel: <c>SplitKx8(TensorCores)</c>), median ms and TFLOP/s.</summary>
    public string FormatRow() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Shape.M,6} {Shape.N,6} {Shape.K,6} {(Shape.TransA ? 1 : 0),2} {(Shape.TransB ? 1 : 0),2} {Plan,-24} {MedianMs,10:F4} {TFlops,8:F3}");
}

/// <summary>
/// Times float32 products (at the device's <see cref="ComputeDevice.Precision"/>) on a device as
/// bench/gpu/torch_gemm_bench.py times <c>torch.matmul</c>:
/// random operands in [-1, 1), warm-up runs (which include the kernel's JIT), then the median of
/// timed repeats, each ending with a device synchronize.
/// </summary>
public static class GemmBenchmark
{
    /// <summary>Allocates the operands of <paramref name="shape"/> on <paramref name="device"/> and times the product.</summary>
    /// <param name="device">Where to run.</param>
    /// <param name="shape">The product.</param>
    /// <param name="warmup">Untimed runs first (≥ 0).</param>
    /// <param name="repeats">Timed runs (≥ 1).</param>
    /// <param name="minWarmupMs">Keep warming up until this many milliseconds have passed.</param>
    public static GemmBenchRecord Measure(ComputeDevice device, GemmBenchShape shape, int warmup, int repeats, double minWarmupMs = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(shape);
        var ops = device.Ops<float>();
        var rng = new Random(7);
        float[] Random(long n)
        {
            var v = new float[n];
            for (long i = 0; i < n; i++)
                v[i] = (float)(rng.NextDouble() * 2.0 - 1.0);
            return v;
        }

        using var a = ops.Allocate((long)shape.M * shape.K);
        using var b = ops.Allocate((long)shape.K * shape.N);
        using var c = ops.Allocate((long)shape.M * shape.N);
        ops.Upload(Random(a.Length), a.All);
        ops.Upload(Random(b.Length), b.All);
        var gemm = shape.Shape;
        double ms = LstmBenchmark.MedianMs(
            () =>
            {
                ops.Gemm(gemm, 1f, a.All, b.All, 0f, c.All);
                ops.Synchronize();
            },
            warmup,
            repeats,
            minWarmupMs);
        var kernel = device.GemmKernelFor(gemm);
        var plan = ops is IlgpuOps<float, F32Ops> ilgpu ? ilgpu.PlanFor(gemm) : new GemmPlan(kernel, 1, gemm.K, kernel);
        return new GemmBenchRecord(device.Info.Description, device.Name, shape, kernel, device.Precision, ms, repeats) { Plan = plan };
    }
}
