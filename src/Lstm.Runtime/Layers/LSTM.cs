using System.Globalization;
using Lstm.Kernels;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Layers;

/// <summary>The configuration of an <see cref="LSTM{T}"/>, as <c>torch.nn.LSTM</c>'s arguments.</summary>
/// <param name="InputSize">I: features of x.</param>
/// <param name="HiddenSize">H: features of h and c.</param>
/// <param name="NumLayers">Stacked layers; layer k &gt; 0 reads layer k-1's output.</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">True: x and output are [B, T, ·]; false: [T, B, ·]. h and c are [L, B, H] either way.</param>
public sealed record LSTMOptions(int InputSize, int HiddenSize, int NumLayers = 1, bool Bias = true, bool BatchFirst = false)
{
    /// <summary>Throws <see cref="LstmException"/> when a size is not positive.</summary>
    public void Validate()
    {
        if (InputSize <= 0 || HiddenSize <= 0 || NumLayers <= 0)
            throw new LstmException(
                $"LSTM sizes must be positive: input_size={InputSize}, hidden_size={HiddenSize}, num_layers={NumLayers}");
    }
}

/// <summary>
/// A multi-layer LSTM with <c>torch.nn.LSTM</c>'s semantics: gate order i, f, g, o; parameters
/// <c>weight_ih_l{k}</c> [4H, I_k], <c>weight_hh_l{k}</c> [4H, H], <c>bias_ih_l{k}</c> [4H],
/// <c>bias_hh_l{k}</c> [4H]; h0/c0 optional (zeros).
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, L layers.
/// Each layer runs as DESIGN.md describes: one input GEMM [T·B, I] × [I, 4H] for all steps, then
/// per step one recurrent GEMM [B, H] × [H, 4H] and one fused cell kernel. Backward walks the
/// steps in reverse with one fused backward kernel and one recurrent GEMM per step; the weight
/// gradients are GEMMs over all steps at the end and the bias gradients one reduction.
/// </remarks>
/// <typeparam name="T">float (default) or double.</typeparam>
public sealed class LSTM<T> : IDisposable where T : unmanaged
{
    private readonly Parameter<T>[] _weightIh;
    private readonly Parameter<T>[] _weightHh;
    private readonly Parameter<T>?[] _biasIh;
    private readonly Parameter<T>?[] _biasHh;

    /// <summary>Creates the layers with PyTorch's initialization, U(-1/√H, 1/√H), drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where parameters and activations live.</param>
    /// <param name="options">Sizes and flags.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public LSTM(ComputeDevice device, LSTMOptions options, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Device = device;
        Options = options;
        int layers = options.NumLayers;
        int g = 4 * options.HiddenSize;
        _weightIh = new Parameter<T>[layers];
        _weightHh = new Parameter<T>[layers];
        _biasIh = new Parameter<T>?[layers];
        _biasHh = new Parameter<T>?[layers];
        var rng = new Random(seed);
        double bound = 1.0 / Math.Sqrt(options.HiddenSize);
        for (int k = 0; k < layers; k++)
        {
            int inputK = k == 0 ? options.InputSize : options.HiddenSize;
            string l = k.ToString(CultureInfo.InvariantCulture);
            _weightIh[k] = Init($"weight_ih_l{l}", rng, bound, g, inputK);
            _weightHh[k] = Init($"weight_hh_l{l}", rng, bound, g, options.HiddenSize);
            if (options.Bias)
            {
                _biasIh[k] = Init($"bias_ih_l{l}", rng, bound, g);
                _biasHh[k] = Init($"bias_hh_l{l}", rng, bound, g);
            }
        }
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The configuration.</summary>
    public LSTMOptions Options { get; }

    /// <summary>The parameters in PyTorch's state-dict order.</summary>
    public IEnumerable<Parameter<T>> Parameters()
    {
        for (int k = 0; k < Options.NumLayers; k++)
        {
            yield return _weightIh[k];
            yield return _weightHh[k];
            if (_biasIh[k] is { } bih)
                yield return bih;
            if (_biasHh[k] is { } bhh)
                yield return bhh;
        }
    }

    private IDeviceOps<T> Ops => Device.Ops<T>();

    private Parameter<T> Init(string name, Random rng, double bound, params int[] shape)
    {
        long n = 1;
        foreach (int d in shape)
            n *= d;
        var values = new T[n];
        for (long i = 0; i < n; i++)
            values[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        return new Parameter<T>(name, Tensor<T>.FromArray(Device, values, shape));
    }

    /// <summary>
    /// Runs the LSTM over a sequence.
    /// </summary>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I]; T ≥ 1.</param>
    /// <param name="h0">[L, B, H] or null for zeros.</param>
    /// <param name="c0">[L, B, H] or null for zeros.</param>
    /// <param name="training">True keeps what <see cref="Backward"/> needs; false stores nothing per step.</param>
    /// <returns>output ([B, T, H] or [T, B, H]), h_n and c_n ([L, B, H]); dispose it when done.</returns>
    public LSTMResult<T> Forward(Tensor<T> x, Tensor<T>? h0 = null, Tensor<T>? c0 = null, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (steps, batch) = CheckInputs(x, h0, c0);
        var o = Options;
        int hidden = o.HiddenSize;
        int layers = o.NumLayers;
        int g = 4 * hidden;
        long stepSize = (long)batch * hidden;
        var ops = Ops;
        var result = new LSTMResult<T>(this, steps, batch, training);
        try
        {
            // Time-major input [T, B, I].
            BufferSlice<T> input;
            if (o.BatchFirst)
            {
                result.InputTimeMajor = ops.Allocate((long)steps * batch * o.InputSize);
                ops.SwapAxes01(batch, steps, o.InputSize, x.Data, result.InputTimeMajor.All);
                input = result.InputTimeMajor.All;
            }
            else
            {
                input = x.Data;
            }

            result.HN = Tensor<T>.Zeros(Device, layers, batch, hidden);
            result.CN = Tensor<T>.Zeros(Device, layers, batch, hidden);
            using var xproj = ops.Allocate((long)steps * batch * g);
            using var hproj = ops.Allocate((long)batch * g);
            if (h0 is null || c0 is null)
                result.ZeroState = ops.Allocate(stepSize);
            DeviceBuffer<T>? cPing = training ? null : ops.Allocate(2 * stepSize);
            try
            {
                for (int k = 0; k < layers; k++)
                {
                    int inputK = k == 0 ? o.InputSize : hidden;
                    var cache = new LayerCache<T> { Input = input };
                    cache.Output = ops.Allocate((long)steps * stepSize);
                    if (training)
                    {
                        cache.Cells = ops.Allocate((long)steps * stepSize);
                        cache.Acts = ops.Allocate((long)steps * batch * g);
                    }

                    result.Layers.Add(cache);
                    var hInit = h0 is null ? result.ZeroState!.All : h0.Data.Slice(k * stepSize, stepSize);
                    var cInit = c0 is null ? result.ZeroState!.All : c0.Data.Slice(k * stepSize, stepSize);
                    cache.H0 = hInit;
                    cache.C0 = cInit;

                    // xproj [T·B, 4H] = input [T·B, I_k] · W_ih^T.
                    ops.Gemm(GemmShape.Dense(steps * batch, g, inputK, false, true), Num<T>.One, input, _weightIh[k].Value.Data, Num<T>.Zero, xproj.All);
                    var recurrent = GemmShape.Dense(batch, g, hidden, false, true);
                    BufferSlice<T>? bih = _biasIh[k]?.Value.Data;
                    BufferSlice<T>? bhh = _biasHh[k]?.Value.Data;
                    var hPrev = hInit;
                    var cPrev = cInit;
                    for (int t = 0; t < steps; t++)
                    {
                        ops.Gemm(recurrent, Num<T>.One, hPrev, _weightHh[k].Value.Data, Num<T>.Zero, hproj.All);
                        var h = cache.Output.Slice(t * stepSize, stepSize);
                        var c = training ? cache.Cells!.Slice(t * stepSize, stepSize) : cPing!.Slice((t & 1) * stepSize, stepSize);
                        BufferSlice<T>? acts = training ? cache.Acts!.Slice((long)t * batch * g, (long)batch * g) : null;
                        ops.LstmCellForward(batch, hidden, xproj.Slice((long)t * batch * g, (long)batch * g), hproj.All, bih, bhh, cPrev, c, h, acts);
                        hPrev = h;
                        cPrev = c;
                    }

                    ops.Copy(hPrev, result.HN.Data.Slice(k * stepSize, stepSize));
                    ops.Copy(cPrev, result.CN.Data.Slice(k * stepSize, stepSize));
                    input = cache.Output.All;
                }
            }
            finally
            {
                cPing?.Dispose();
            }

            var top = result.Layers[^1].Output!;
            if (o.BatchFirst)
            {
                result.Output = Tensor<T>.Zeros(Device, batch, steps, hidden);
                ops.SwapAxes01(steps, batch, hidden, top.All, result.Output.Data);
            }
            else
            {
                result.Output = Tensor<T>.Zeros(Device, steps, batch, hidden);
                ops.Copy(top.All, result.Output.Data);
            }

            if (!training)
                result.ReleaseCache();
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Back-propagates through a training <see cref="Forward"/>: returns the gradients of x, h0
    /// and c0 and adds each parameter's gradient to its <see cref="Parameter{T}.Grad"/>.
    /// </summary>
    /// <param name="forward">The result of <c>Forward(..., training: true)</c>.</param>
    /// <param name="dOutput">d loss / d output, shaped like output; null for zeros.</param>
    /// <param name="dHN">d loss / d h_n, [L, B, H]; null for zeros.</param>
    /// <param name="dCN">d loss / d c_n, [L, B, H]; null for zeros.</param>
    /// <returns>dx (shaped like x), dh0 and dc0 ([L, B, H]); dispose it when done.</returns>
    public LSTMGradients<T> Backward(LSTMResult<T> forward, Tensor<T>? dOutput = null, Tensor<T>? dHN = null, Tensor<T>? dCN = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        if (!forward.Training || forward.Layers.Count != Options.NumLayers)
            throw new InvalidOperationException("Backward needs the result of a Forward with training: true that has not been disposed");
        if (!ReferenceEquals(forward.Owner, this))
            throw new InvalidOperationException("Backward was given the result of another LSTM's Forward");
        var o = Options;
        int steps = forward.Steps;
        int batch = forward.Batch;
        int hidden = o.HiddenSize;
        int layers = o.NumLayers;
        int g = 4 * hidden;
        long stepSize = (long)batch * hidden;
        long gateStep = (long)batch * g;
        int[] outShape = o.BatchFirst ? [batch, steps, hidden] : [steps, batch, hidden];
        CheckShape("dOutput", dOutput, outShape);
        CheckShape("dh_n", dHN, [layers, batch, hidden]);
        CheckShape("dc_n", dCN, [layers, batch, hidden]);
        var ops = Ops;
        var grads = new LSTMGradients<T>();
        try
        {
            grads.DH0 = Tensor<T>.Zeros(Device, layers, batch, hidden);
            grads.DC0 = Tensor<T>.Zeros(Device, layers, batch, hidden);
            using var dgates = ops.Allocate((long)steps * gateStep);
            using var dhRec = ops.Allocate(stepSize);
            using var dc = ops.Allocate(stepSize);
            using var zeros = ops.Allocate((long)steps * stepSize);

            // d loss / d (top layer's output), time-major [T, B, H].
            DeviceBuffer<T>? dyOwned = null;
            BufferSlice<T> dy;
            if (dOutput is null)
            {
                dy = zeros.All;
            }
            else if (o.BatchFirst)
            {
                dyOwned = ops.Allocate((long)steps * stepSize);
                ops.SwapAxes01(batch, steps, hidden, dOutput.Data, dyOwned.All);
                dy = dyOwned.All;
            }
            else
            {
                dy = dOutput.Data;
            }

            try
            {
                for (int k = layers - 1; k >= 0; k--)
                {
                    var cache = forward.Layers[k];
                    int inputK = k == 0 ? o.InputSize : hidden;
                    if (dHN is null)
                        ops.Fill(dhRec.All, Num<T>.Zero);
                    else
                        ops.Copy(dHN.Data.Slice(k * stepSize, stepSize), dhRec.All);
                    if (dCN is null)
                        ops.Fill(dc.All, Num<T>.Zero);
                    else
                        ops.Copy(dCN.Data.Slice(k * stepSize, stepSize), dc.All);

                    var whh = _weightHh[k].Value.Data;
                    var dhShape = GemmShape.Dense(batch, hidden, g, false, false);
                    for (int t = steps - 1; t >= 0; t--)
                    {
                        var dgT = dgates.Slice(t * gateStep, gateStep);
                        var cPrev = t == 0 ? cache.C0 : cache.Cells!.Slice((t - 1) * stepSize, stepSize);
                        ops.LstmCellBackward(
                            batch, hidden, dy.Slice(t * stepSize, stepSize), dhRec.All, dc.All,
                            cache.Acts!.Slice(t * gateStep, gateStep), cache.Cells!.Slice(t * stepSize, stepSize), cPrev, dgT);
                        // dh_{t-1} = dgates_t [B, 4H] · W_hh [4H, H].
                        ops.Gemm(dhShape, Num<T>.One, dgT, whh, Num<T>.Zero, dhRec.All);
                    }

                    ops.Copy(dhRec.All, grads.DH0.Data.Slice(k * stepSize, stepSize));
                    ops.Copy(dc.All, grads.DC0.Data.Slice(k * stepSize, stepSize));

                    // dW_ih [4H, I_k] += dgates^T [4H, T·B] · input [T·B, I_k].
                    ops.Gemm(GemmShape.Dense(g, inputK, steps * batch, true, false), Num<T>.One, dgates.All, cache.Input, Num<T>.One, _weightIh[k].Grad.Data);
                    // dW_hh [4H, H] += dgates_0^T · h0 + dgates_{1..T-1}^T · h_{0..T-2}.
                    var dWhh = _weightHh[k].Grad.Data;
                    ops.Gemm(GemmShape.Dense(g, hidden, batch, true, false), Num<T>.One, dgates.Slice(0, gateStep), cache.H0, Num<T>.One, dWhh);
                    if (steps > 1)
                    {
                        ops.Gemm(
                            GemmShape.Dense(g, hidden, (steps - 1) * batch, true, false), Num<T>.One,
                            dgates.Slice(gateStep, (steps - 1) * gateStep), cache.Output!.Slice(0, (steps - 1) * stepSize), Num<T>.One, dWhh);
                    }

                    if (_biasIh[k] is { } bih && _biasHh[k] is { } bhh)
                    {
                        ops.SumRows(steps * batch, g, dgates.All, Num<T>.One, bih.Grad.Data);
                        ops.SumRows(steps * batch, g, dgates.All, Num<T>.One, bhh.Grad.Data);
                    }

                    // d input [T·B, I_k] = dgates [T·B, 4H] · W_ih [4H, I_k]: the layer below's dy (or dx).
                    var dInput = ops.Allocate((long)steps * batch * inputK);
                    ops.Gemm(GemmShape.Dense(steps * batch, inputK, g, false, false), Num<T>.One, dgates.All, _weightIh[k].Value.Data, Num<T>.Zero, dInput.All);
                    dyOwned?.Dispose();
                    dyOwned = dInput;
                    dy = dInput.All;
                }

                int[] xShape = o.BatchFirst ? [batch, steps, o.InputSize] : [steps, batch, o.InputSize];
                grads.DX = Tensor<T>.Zeros(Device, xShape);
                if (o.BatchFirst)
                    ops.SwapAxes01(steps, batch, o.InputSize, dy, grads.DX.Data);
                else
                    ops.Copy(dy, grads.DX.Data);
            }
            finally
            {
                dyOwned?.Dispose();
            }

            return grads;
        }
        catch
        {
            grads.Dispose();
            throw;
        }
    }

    private (int Steps, int Batch) CheckInputs(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0)
    {
        var o = Options;
        if (!ReferenceEquals(x.Device, Device))
            throw new LstmException($"x is on device {x.Device.Name} but the LSTM is on {Device.Name}");
        string layout = o.BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]";
        if (x.Shape.Count != 3 || x.Shape[2] != o.InputSize)
            throw new LstmException($"x has shape {x.ShapeString}; expected {layout} with input_size {o.InputSize}");
        int steps = o.BatchFirst ? x.Shape[1] : x.Shape[0];
        int batch = o.BatchFirst ? x.Shape[0] : x.Shape[1];
        if (steps < 1 || batch < 1)
            throw new LstmException($"x has shape {x.ShapeString}; seq_len and batch must be at least 1");
        CheckShape("h0", h0, [o.NumLayers, batch, o.HiddenSize]);
        CheckShape("c0", c0, [o.NumLayers, batch, o.HiddenSize]);
        return (steps, batch);
    }

    private void CheckShape(string name, Tensor<T>? t, int[] expected)
    {
        if (t is null)
            return;
        if (!ReferenceEquals(t.Device, Device))
            throw new LstmException($"{name} is on device {t.Device.Name} but the LSTM is on {Device.Name}");
        if (!t.HasShape(expected))
            throw new LstmException($"{name} has shape {t.ShapeString}; expected {Tensor<T>.FormatShape(expected)}");
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var p in Parameters())
            p.Dispose();
    }
}

/// <summary>What one layer's forward keeps for the backward pass (time-major buffers).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class LayerCache<T> : IDisposable where T : unmanaged
{
    /// <summary>The layer's input [T, B, I_k] (not owned).</summary>
    public BufferSlice<T> Input { get; set; }

    /// <summary>h0 of this layer [B, H] (not owned).</summary>
    public BufferSlice<T> H0 { get; set; }

    /// <summary>c0 of this layer [B, H] (not owned).</summary>
    public BufferSlice<T> C0 { get; set; }

    /// <summary>h_t for every step [T, B, H].</summary>
    public DeviceBuffer<T>? Output { get; set; }

    /// <summary>c_t for every step [T, B, H] (training).</summary>
    public DeviceBuffer<T>? Cells { get; set; }

    /// <summary>i, f, g, o for every step [T, B, 4H] (training).</summary>
    public DeviceBuffer<T>? Acts { get; set; }

    public void Dispose()
    {
        Output?.Dispose();
        Cells?.Dispose();
        Acts?.Dispose();
        Output = null;
        Cells = null;
        Acts = null;
    }
}

/// <summary>The result of <see cref="LSTM{T}.Forward"/>: output, h_n, c_n, and (training) what backward needs.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LSTMResult<T> : IDisposable where T : unmanaged
{
    internal LSTMResult(object owner, int steps, int batch, bool training)
    {
        Owner = owner;
        Steps = steps;
        Batch = batch;
        Training = training;
    }

    /// <summary>[B, T, H] if batch_first, else [T, B, H]: h_t of the last layer for every t.</summary>
    public Tensor<T> Output { get; internal set; } = null!;

    /// <summary>[L, B, H]: each layer's h at the last step.</summary>
    public Tensor<T> HN { get; internal set; } = null!;

    /// <summary>[L, B, H]: each layer's c at the last step.</summary>
    public Tensor<T> CN { get; internal set; } = null!;

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>True when the result keeps what backward needs.</summary>
    public bool Training { get; private set; }

    internal object Owner { get; }

    internal List<LayerCache<T>> Layers { get; } = [];

    internal DeviceBuffer<T>? InputTimeMajor { get; set; }

    /// <summary>Zeros [B, H]: the initial state when h0 or c0 was not given.</summary>
    internal DeviceBuffer<T>? ZeroState { get; set; }

    internal void ReleaseCache()
    {
        ZeroState?.Dispose();
        ZeroState = null;
        foreach (var l in Layers)
            l.Dispose();
        Layers.Clear();
        InputTimeMajor?.Dispose();
        InputTimeMajor = null;
        Training = false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleaseCache();
        Output?.Dispose();
        HN?.Dispose();
        CN?.Dispose();
    }
}

/// <summary>The gradients <see cref="LSTM{T}.Backward"/> returns.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LSTMGradients<T> : IDisposable where T : unmanaged
{
    /// <summary>d loss / d x, shaped like x.</summary>
    public Tensor<T> DX { get; internal set; } = null!;

    /// <summary>d loss / d h0, [L, B, H].</summary>
    public Tensor<T> DH0 { get; internal set; } = null!;

    /// <summary>d loss / d c0, [L, B, H].</summary>
    public Tensor<T> DC0 { get; internal set; } = null!;

    /// <inheritdoc/>
    public void Dispose()
    {
        DX?.Dispose();
        DH0?.Dispose();
        DC0?.Dispose();
    }
}
