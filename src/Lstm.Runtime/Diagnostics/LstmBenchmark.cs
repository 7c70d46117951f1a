using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Diagnostics;

/// <summary>What one benchmark step runs.</summary>
public enum LstmBenchMode
{
    /// <summary>A forward pass that stores nothing for backward (PyTorch's <c>torch.no_grad()</c>).</summary>
    Inference,

    /// <summary>A forward pass that keeps its activations, then the backward pass of <c>output.sum()</c>.</summary>
    Training,
}

/// <summary>An LSTM shape to time: B batch, T steps (seq), I input size, H hidden size, L layers.</summary>
/// <param name="Batch">B.</param>
/// <param name="Seq">T.</param>
/// <param name="Input">I.</param>
/// <param name="Hidden">H.</param>
/// <param name="Layers">L.</param>
public sealed record LstmBenchShape(int Batch, int Seq, int Input, int Hidden, int Layers)
{
    /// <summary>
    /// The shapes bench/ and <c>lstm bench</c> time by default: the seed's model, streaming
    /// latency (batch 1, 500 steps), and three throughput shapes.
    /// </summary>
    public static IReadOnlyList<LstmBenchShape> Defaults { get; } =
    [
        new(5, 50, 10, 20, 2),
        new(1, 500, 128, 256, 1),
        new(32, 100, 128, 256, 1),
        new(64, 100, 256, 512, 2),
        new(16, 200, 512, 1024, 1),
    ];

    /// <summary>
    /// Floating-point operations of one inference pass, counted as torch_lstm_bench.py counts them:
    /// the two GEMMs per layer, Σ_l 2·T·B·4H·(I_l + H), with I_l = I for layer 0 and H after.
    /// A training step (forward + backward) counts three times this.
    /// </summary>
    public long InferenceFlops
    {
        get
        {
            long total = 0;
            for (int layer = 0; layer < Layers; layer++)
            {
                long input = layer == 0 ? Input : Hidden;
                total += 2L * Seq * Batch * 4 * Hidden * (input + Hidden);
            }

            return total;
        }
    }

    /// <summary>The FLOP count of one step in <paramref name="mode"/>: inference once, training three times.</summary>
    /// <param name="mode">Inference or training.</param>
    public long Flops(LstmBenchMode mode) => mode == LstmBenchMode.Training ? 3 * InferenceFlops : InferenceFlops;

    /// <summary>Throws <see cref="LstmException"/> unless every size is positive.</summary>
    public void Validate()
    {
        if (Batch <= 0 || Seq <= 0 || Input <= 0 || Hidden <= 0 || Layers <= 0)
            throw new LstmException($"benchmark shape {this}: batch, seq, input, hidden and layers must all be positive");
    }

    /// <summary>Parses <c>batch,seq,input,hidden,layers</c> (torch_lstm_bench.py's <c>--shapes</c> syntax).</summary>
    /// <param name="text">For example <c>64,100,256,512,2</c>.</param>
    /// <exception cref="LstmException">Not five positive integers.</exception>
    public static LstmBenchShape Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        bool ok = parts.Length == 5;
        for (int i = 0; ok && i < parts.Length; i++)
            ok = int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) && values[i] > 0;
        if (!ok)
            throw new LstmException($"benchmark shape '{text}': expected batch,seq,input,hidden,layers as five positive integers, e.g. 64,100,256,512,2");
        return new LstmBenchShape(values[0], values[1], values[2], values[3], values[4]);
    }

    /// <summary><c>batch,seq,input,hidden,layers</c>, the form <see cref="Parse"/> reads.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Batch},{Seq},{Input},{Hidden},{Layers}");
}

/// <summary>
/// One timing: the fields and names of torch_lstm_bench.py's JSON lines (<c>batch</c>, <c>seq</c>,
/// <c>input</c>, <c>hidden</c>, <c>layers</c>, <c>mode</c>, <c>median_ms</c>, <c>gflops</c>, ...),
/// so our records and PyTorch's compare line by line.
/// </summary>
/// <param name="Peer">Who ran it: <c>ilgpu-lstm</c> here, <c>pytorch-cudnn</c> in the PyTorch script.</param>
/// <param name="Device">The device's own description (the GPU's or CPU's name).</param>
/// <param name="Backend">The device name it was opened by (<c>cuda:0</c>, <c>cpu</c>, <c>ilgpu-cpu</c>).</param>
/// <param name="Shape">The shape.</param>
/// <param name="Mode">Inference or training.</param>
/// <param name="MedianMs">Median wall time of one step over the repeats, in milliseconds.</param>
/// <param name="Repeats">Timed repeats.</param>
/// <param name="Threads">Host threads available (<see cref="Environment.ProcessorCount"/>).</param>
public sealed record LstmBenchRecord(
    string Peer, string Device, string Backend, LstmBenchShape Shape, LstmBenchMode Mode, double MedianMs, int Repeats, int Threads)
{
    /// <summary>The FLOP count of the step (see <see cref="LstmBenchShape.InferenceFlops"/>).</summary>
    public long Flops => Shape.Flops(Mode);

    /// <summary>FLOPs per second, in units of 10^9.</summary>
    public double GFlops => MedianMs > 0 ? Flops / MedianMs / 1e6 : 0;

    /// <summary><c>inference</c> or <c>training</c>, as the PyTorch script writes it.</summary>
    public string ModeName => Mode == LstmBenchMode.Training ? "training" : "inference";

    /// <summary>One JSON object on one line, rounded as torch_lstm_bench.py rounds (ms to 4 places, GFLOP/s to 1).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("peer", Peer);
            w.WriteString("device", Device);
            w.WriteString("backend", Backend);
            w.WriteString("dtype", "float32");
            w.WriteNumber("batch", Shape.Batch);
            w.WriteNumber("seq", Shape.Seq);
            w.WriteNumber("input", Shape.Input);
            w.WriteNumber("hidden", Shape.Hidden);
            w.WriteNumber("layers", Shape.Layers);
            w.WriteString("mode", ModeName);
            w.WriteNumber("median_ms", Math.Round(MedianMs, 4));
            w.WriteNumber("gflops", Math.Round(GFlops, 1));
            w.WriteNumber("repeats", Repeats);
            w.WriteNumber("threads", Threads);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>
/// Times an <see cref="LSTM{T}"/> (float32, batch_first, random weights and input) on one device
/// as torch_lstm_bench.py times <c>nn.LSTM</c>: warm-up runs first (they include the kernels' JIT),
/// then the median of timed repeats, each ending with a device synchronize.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, L layers.
/// Buffers: x [B, T, I] uniform in [-1, 1); dy [B, T, H] all ones, the gradient of
/// <c>output.sum()</c>, which is what the PyTorch script back-propagates. Parameter gradients
/// accumulate across training steps, as they do in the script (it never zeroes them).
/// </remarks>
public sealed class LstmBenchmark : IDisposable
{
    /// <summary>The <c>peer</c> field of our records.</summary>
    public const string PeerName = "ilgpu-lstm";

    private readonly LSTM<float> _lstm;
    private readonly Tensor<float> _x;
    private readonly Tensor<float> _dy;

    /// <summary>Allocates the LSTM and its input on <paramref name="device"/>.</summary>
    /// <param name="device">Where to run.</param>
    /// <param name="shape">The shape.</param>
    /// <param name="seed">Seed of the weights and the input.</param>
    public LstmBenchmark(ComputeDevice device, LstmBenchShape shape, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(shape);
        shape.Validate();
        Device = device;
        Shape = shape;
        _lstm = new LSTM<float>(device, new LSTMOptions(shape.Input, shape.Hidden, shape.Layers, BatchFirst: true), seed);
        try
        {
            var rng = new Random(seed + 1);
            var x = new float[(long)shape.Batch * shape.Seq * shape.Input];
            for (long i = 0; i < x.LongLength; i++)
                x[i] = (float)(rng.NextDouble() * 2.0 - 1.0);
            _x = Tensor<float>.FromArray(device, x, shape.Batch, shape.Seq, shape.Input);
            _dy = Tensor<float>.Zeros(device, shape.Batch, shape.Seq, shape.Hidden);
            _dy.Ops.Fill(_dy.Data, 1f);
            _dy.Ops.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The shape.</summary>
    public LstmBenchShape Shape { get; }

    /// <summary>One inference pass (forward, storing nothing), finished on the device.</summary>
    public void Inference()
    {
        using var result = _lstm.Forward(_x, training: false);
        _x.Ops.Synchronize();
    }

    /// <summary>
    /// How this device runs the shape's forward time loop, found by running inference passes:
    /// <c>persistent</c> (one launch per direction, <c>docs/gpu-kernels.md</c>), <c>graph</c> (the
    /// step loop recorded once as a CUDA graph and replayed: a loop is recorded the second time it is
    /// seen, so this runs a second pass where the device records), <c>per step</c> (a recurrent GEMM
    /// and a cell kernel a step, each launched from the host), or, on <c>cpu</c>, <c>host</c>.
    /// </summary>
    public string ForwardLoopPath()
    {
        if (!Device.IsIlgpu)
            return "host";
        var launches = PersistentLaunches.For(Device.Accelerator);
        var graphs = StepLoopGraphs.For(Device.Accelerator);
        long before = launches.Runs, replays = graphs.Replays;
        Inference();
        if (launches.Runs > before)
            return "persistent";
        if (!graphs.Active)
            return "per step";
        Inference();
        return graphs.Replays > replays ? "graph" : "per step";
    }

    /// <summary>One training step: forward keeping activations, then backward of <c>output.sum()</c>, finished on the device.</summary>
    public void TrainingStep()
    {
        using var result = _lstm.Forward(_x, training: true);
        using var grads = _lstm.Backward(result, dOutput: _dy);
        _x.Ops.Synchronize();
    }

    /// <summary>Runs one step of <paramref name="mode"/>.</summary>
    /// <param name="mode">Inference or training.</param>
    public void Step(LstmBenchMode mode)
    {
        if (mode == LstmBenchMode.Training)
            TrainingStep();
        else
            Inference();
    }

    /// <summary>Warms up, then times <paramref name="repeats"/> steps and returns the record of their median.</summary>
    /// <param name="mode">Inference or training.</param>
    /// <param name="warmup">Untimed steps first (≥ 0).</param>
    /// <param name="repeats">Timed steps (≥ 1).</param>
    /// <param name="minWarmupMs">
    /// Keep warming up past <paramref name="warmup"/> steps until this much time has passed, so
    /// .NET's tiered JIT has replaced the first, unoptimized code of short steps before timing.
    /// </param>
    public LstmBenchRecord Measure(LstmBenchMode mode, int warmup, int repeats, double minWarmupMs = 0)
    {
        double ms = MedianMs(() => Step(mode), warmup, repeats, minWarmupMs);
        return new LstmBenchRecord(PeerName, Device.Info.Description, Device.Name, Shape, mode, ms, repeats, Environment.ProcessorCount);
    }

    /// <summary>
    /// Runs <paramref name="step"/> <paramref name="warmup"/> times untimed, then
    /// <paramref name="repeats"/> times timed, and returns the median in milliseconds (the upper
    /// median for an even count, as torch_lstm_bench.py takes <c>times[n // 2]</c>).
    /// </summary>
    /// <param name="step">One step; it must finish its device work before returning.</param>
    /// <param name="warmup">Untimed runs (≥ 0).</param>
    /// <param name="repeats">Timed runs (≥ 1).</param>
    /// <param name="minWarmupMs">Warm up past <paramref name="warmup"/> runs until this many milliseconds have passed (0: exactly <paramref name="warmup"/> runs).</param>
    public static double MedianMs(Action step, int warmup, int repeats, double minWarmupMs = 0)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (warmup < 0)
            throw new LstmException($"benchmark warm-up count {warmup}: must be 0 or more");
        if (repeats < 1)
            throw new LstmException($"benchmark repeats {repeats}: must be at least 1");
        long warmupStart = Stopwatch.GetTimestamp();
        for (int i = 0; i < warmup; i++)
            step();
        while (Stopwatch.GetElapsedTime(warmupStart).TotalMilliseconds < minWarmupMs)
            step();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[repeats / 2];
    }

    /// <summary>The records as a table: shape, mode, median ms and GFLOP/s (the PyTorch script's columns).</summary>
    /// <param name="records">The timings.</param>
    public static string FormatTable(IEnumerable<LstmBenchRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var sb = new StringBuilder();
        var ic = CultureInfo.InvariantCulture;
        sb.AppendLine(ic, $"{"batch",5} {"seq",4} {"in",5} {"hid",5} {"L",2} {"mode",9} {"ms",9} {"GFLOP/s",9}");
        foreach (var r in records)
        {
            var s = r.Shape;
            sb.AppendLine(ic, $"{s.Batch,5} {s.Seq,4} {s.Input,5} {s.Hidden,5} {s.Layers,2} {r.ModeName,9} {r.MedianMs,9:F3} {r.GFlops,9:F1}");
        }

        return sb.ToString();
    }

    /// <summary>
    /// Writes the records as JSON lines (one object per line, as the PyTorch script prints them)
    /// to a temporary file beside <paramref name="path"/>, then renames it over <paramref name="path"/>:
    /// a failed write leaves no half-written file.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="records">The timings.</param>
    /// <exception cref="LstmException">The path is not writable.</exception>
    public static void WriteJsonLines(string path, IEnumerable<LstmBenchRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        WriteJsonLines(path, records.Select(r => r.ToJson()));
    }

    /// <summary>Writes JSON objects, one a line, atomically (<see cref="AtomicFile"/>): a failed write leaves no half-written file.</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="lines">One JSON object each.</param>
    /// <exception cref="LstmException">The path is not writable.</exception>
    public static void WriteJsonLines(string path, IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(lines);
        var text = new StringBuilder();
        foreach (string line in lines)
            text.Append(line).Append('\n');
        AtomicFile.WriteAllText(path, text.ToString());
    }

    /// <summary>Frees the LSTM and its buffers.</summary>
    public void Dispose()
    {
        _dy?.Dispose();
        _x?.Dispose();
        _lstm.Dispose();
    }
}
