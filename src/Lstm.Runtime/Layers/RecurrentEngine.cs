using System.Globalization;
using Lstm.Kernels;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Layers;

/// <summary>The sizes and flags every recurrent layer shares (the engine's view of the options records).</summary>
/// <param name="InputSize">I.</param>
/// <param name="HiddenSize">H.</param>
/// <param name="NumLayers">L.</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">x and output are [B, T, ·] when true.</param>
/// <param name="Bidirectional">D = 2 when true.</param>
/// <param name="ProjSize">P (LSTM only), 0 for none.</param>
/// <param name="Dropout">p of the dropout on every layer's output but the last (training only).</param>
internal sealed record RecurrentConfig(int InputSize, int HiddenSize, int NumLayers, bool Bias, bool BatchFirst, bool Bidirectional, int ProjSize, double Dropout = 0)
{
    /// <summary>D: 1 or 2 directions.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>H_out: P when projecting, else H (the width of h and of each direction's output).</summary>
    public int OutSize => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>The input width of layer k: I, then D·H_out.</summary>
    public int LayerInput(int k) => k == 0 ? InputSize : Directions * OutSize;
}

/// <summary>The parameters of one direction of one layer.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionParameters<T> where T : unmanaged
{
    /// <summary>W_ih [G, I_k].</summary>
    public required Parameter<T> WeightIh { get; init; }

    /// <summary>W_hh [G, H_out].</summary>
    public required Parameter<T> WeightHh { get; init; }

    /// <summary>b_ih [G], or null for bias=False.</summary>
    public Parameter<T>? BiasIh { get; init; }

    /// <summary>b_hh [G], or null for bias=False.</summary>
    public Parameter<T>? BiasHh { get; init; }

    /// <summary>W_hr [P, H] with proj_size, else null.</summary>
    public Parameter<T>? WeightHr { get; init; }

    /// <summary>In PyTorch's state-dict order: w_ih, w_hh, b_ih, b_hh, w_hr.</summary>
    public IEnumerable<Parameter<T>> All()
    {
        yield return WeightIh;
        yield return WeightHh;
        if (BiasIh is { } bih)
            yield return bih;
        if (BiasHh is { } bhh)
            yield return bhh;
        if (WeightHr is { } whr)
            yield return whr;
    }
}

/// <summary>
/// The time loop every recurrent layer shares, driven by a cell strategy
/// (<see cref="IRecurrentCell{T}"/>): multi-layer, one or two directions, optional projection.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, P projection size,
/// H_out = P or H, G = gates·H, L layers, D directions.
/// Each direction of each layer runs as DESIGN.md describes: one input GEMM [T·B, I_k] × [I_k, G]
/// for all steps, then per step one recurrent GEMM [B, H_out] × [H_out, G] and one fused cell
/// kernel (plus, with a projection, one GEMM [B, H] × [H, P]). Backward walks the steps in
/// reverse with one fused backward kernel and one recurrent GEMM per step; the weight gradients
/// are GEMMs over all steps at the end and the bias gradients one reduction each.
/// The reverse direction walks t = T-1 … 0; both directions' outputs are concatenated on the
/// feature axis ([fwd, bwd]); h_n and c_n are indexed layer·D + direction.
/// The two directions of a layer are independent (their own parameters, gradients and scratch),
/// so they run concurrently, forward and backward: on an ILGPU device on two streams (one host
/// thread issues their steps alternately), on <c>cpu</c> on two threads; they join before the
/// next layer, and the layer's d input (the sum of both directions' dgates · W_ih) is formed after
/// the join in direction order, so the results are those of the sequential run bit for bit.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class RecurrentEngine<T> : IDisposable where T : unmanaged
{
    private readonly DirectionParameters<T>[] _params;

    public RecurrentEngine(ComputeDevice device, IRecurrentCell<T> cell, RecurrentConfig config, int seed)
    {
        Device = device;
        Cell = cell;
        Config = config;
        int d = config.Directions;
        int g = cell.Gates * config.HiddenSize;
        _params = new DirectionParameters<T>[config.NumLayers * d];
        var rng = new Random(seed);
        double bound = 1.0 / Math.Sqrt(config.HiddenSize);
        for (int k = 0; k < config.NumLayers; k++)
        {
            for (int dir = 0; dir < d; dir++)
            {
                string suffix = k.ToString(CultureInfo.InvariantCulture) + (dir == 1 ? "_reverse" : "");
                var wih = Init($"weight_ih_l{suffix}", rng, bound, g, config.LayerInput(k));
                var whh = Init($"weight_hh_l{suffix}", rng, bound, g, config.OutSize);
                Parameter<T>? bih = null, bhh = null, whr = null;
                if (config.Bias)
                {
                    bih = Init($"bias_ih_l{suffix}", rng, bound, g);
                    bhh = Init($"bias_hh_l{suffix}", rng, bound, g);
                }

                if (config.ProjSize > 0)
                    whr = Init($"weight_hr_l{suffix}", rng, bound, config.ProjSize, config.HiddenSize);
                _params[k * d + dir] = new DirectionParameters<T> { WeightIh = wih, WeightHh = whh, BiasIh = bih, BiasHh = bhh, WeightHr = whr };
            }
        }
    }

    public ComputeDevice Device { get; }

    public IRecurrentCell<T> Cell { get; }

    public RecurrentConfig Config { get; }

    /// <summary>The seed of the dropout masks (stream = layer index, element = index in the layer's seq-first output).</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>
    /// True (the default): a bidirectional layer runs its two directions concurrently, each on a
    /// lane of the device (<see cref="ComputeDevice.Ops{T}(int)"/>) with its own scratch buffers,
    /// joined before the next layer. False: one after the other on lane 0 (the results are the same, bit for bit).
    /// </summary>
    internal bool ConcurrentDirections { get; set; } = true;

    private IDeviceOps<T> Ops => Device.Ops<T>();

    /// <summary>The operations direction d issues on: its own lane when the directions run concurrently, else lane 0.</summary>
    private IDeviceOps<T>[] DirectionOps(int dirs) =>
        [.. Enumerable.Range(0, dirs).Select(d => ConcurrentDirections ? Device.Ops<T>(d) : Ops)];

    /// <summary>
    /// Runs the work of every direction of one layer, each given as steps to walk (an iterator over
    /// its lane's operations), and returns when all of it has finished. Sequential: direction 0,
    /// then 1. Concurrent on an ILGPU device: one host thread issues the steps of both directions
    /// alternately, each on its own stream. Concurrent on <c>cpu</c>: direction 1 on a thread of its own.
    /// </summary>
    private void RunDirections(int dirs, Func<int, IEnumerable<bool>> direction)
    {
        if (dirs == 1 || !ConcurrentDirections)
        {
            for (int d = 0; d < dirs; d++)
                Drain(direction(d));
            return;
        }

        var lane0 = Device.Ops<T>(0);
        var lane1 = Device.Ops<T>(1);
        // Lane 1 reads what lane 0 wrote (the layer input, buffers lane 0 allocated and zeroed).
        lane0.Synchronize();
        try
        {
            if (Device.IsIlgpu)
            {
                using var first = direction(0).GetEnumerator();
                using var second = direction(1).GetEnumerator();
                bool more0 = true, more1 = true;
                while (more0 || more1)
                {
                    if (more0)
                        more0 = first.MoveNext();
                    if (more1)
                        more1 = second.MoveNext();
                }
            }
            else
            {
                var other = Task.Run(() => Drain(direction(1)));
                Exception? failure = null;
                try
                {
                    Drain(direction(0));
                }
                catch (Exception e)
                {
                    failure = e;
                }

                try
                {
                    other.GetAwaiter().GetResult();
                }
                catch (Exception) when (failure is not null)
                {
                    // The first direction's failure is the one reported.
                }

                if (failure is not null)
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }
        finally
        {
            lane1.Synchronize();
            lane0.Synchronize();
        }
    }

    private static void Drain(IEnumerable<bool> steps)
    {
        foreach (bool _ in steps)
        {
        }
    }

    public IEnumerable<Parameter<T>> Parameters() => _params.SelectMany(p => p.All());

    private Parameter<T> Init(string name, Random rng, double bound, params int[] shape)
    {
        long n = 1;
        foreach (int s in shape)
            n *= s;
        var values = new T[n];
        for (long i = 0; i < n; i++)
            values[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        return new Parameter<T>(name, Tensor<T>.FromArray(Device, values, shape));
    }

    /// <summary>Runs all layers and directions, filling <paramref name="result"/>.</summary>
    /// <remarks>
    /// With <see cref="RecurrentResult{T}.Plan"/> set (variable lengths), rows are sorted by
    /// length on entry, so at step t only the first n_t rows are active and every GEMM and cell
    /// kernel runs on that prefix; rows past their length are never written (their output stays
    /// 0 and their state untouched). The reverse direction starts each row at its own last step,
    /// from h0/c0. Outputs and states are put back in the caller's row order on exit.
    /// </remarks>
    public void Forward(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0, bool training, RecurrentResult<T> result)
    {
        var o = Config;
        var cell = Cell;
        var plan = result.Plan;
        int steps = result.Steps;
        int batch = result.Batch;
        int hidden = o.HiddenSize;
        int outSize = o.OutSize;
        int dirs = o.Directions;
        int layers = o.NumLayers;
        int g = cell.Gates * hidden;
        int actsWidth = cell.ActsPerHidden * hidden;
        long stepSize = (long)batch * hidden;
        long outStep = (long)batch * outSize;
        long gateStep = (long)batch * g;
        long outPerDir = steps * outStep;
        bool storeCells = cell.HasCellState && (training || plan is not null);
        var ops = Ops;

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

        BufferSlice<T>? h0s = h0?.Data;
        BufferSlice<T>? c0s = c0?.Data;
        if (plan is { Identity: false })
        {
            // Rows sorted by length, descending.
            input = result.Own(Gather(ops, o.InputSize, steps, plan.Perm, input));
            if (h0s is { } hs)
                h0s = result.Own(Gather(ops, outSize, layers * dirs, plan.Perm, hs));
            if (c0s is { } cs)
                c0s = result.Own(Gather(ops, hidden, layers * dirs, plan.Perm, cs));
        }

        using var hnSorted = ops.Allocate(layers * dirs * outStep);
        using var cnSorted = cell.HasCellState ? ops.Allocate(layers * dirs * stepSize) : null;
        if (h0 is null || (cell.HasCellState && c0 is null))
            result.ZeroState = ops.Allocate(stepSize);

        // Each direction's scratch, on its own lane: xproj [T, B, G], hproj [B, G], c ping-pong [2, B, H], o ⊙ tanh(c) [B, H].
        var laneOps = DirectionOps(dirs);
        var xprojs = new DeviceBuffer<T>[dirs];
        var hprojs = new DeviceBuffer<T>[dirs];
        var cPings = new DeviceBuffer<T>?[dirs];
        var hRawTmps = new DeviceBuffer<T>?[dirs];
        try
        {
            for (int d = 0; d < dirs; d++)
            {
                var lane = laneOps[d];
                xprojs[d] = lane.Allocate((long)steps * gateStep);
                hprojs[d] = lane.Allocate(gateStep);
                cPings[d] = storeCells || !cell.HasCellState ? null : lane.Allocate(2 * stepSize);
                hRawTmps[d] = training || o.ProjSize == 0 ? null : lane.Allocate(stepSize);
            }

            for (int k = 0; k < layers; k++)
            {
                int inputK = o.LayerInput(k);
                var cache = new LayerCache<T> { Input = input };
                result.Layers.Add(cache);
                cache.Stacked = ops.Allocate(dirs * outPerDir);
                for (int d = 0; d < dirs; d++)
                    cache.Directions.Add(null!);
                var layerInput = input;
                int layer = k;

                IEnumerable<bool> ForwardDirection(int d)
                {
                    var ops = laneOps[d];
                    var xproj = xprojs[d];
                    var hproj = hprojs[d];
                    var cPing = cPings[d];
                    var hRawTmp = hRawTmps[d];
                    var input = layerInput;
                    int k = layer;
                    var p = _params[k * dirs + d];
                    int index = k * dirs + d;
                    var dc = new DirectionCache<T>
                    {
                        H0 = h0s is { } hs ? hs.Slice(index * outStep, outStep) : result.ZeroState!.Slice(0, outStep),
                        C0 = !cell.HasCellState ? default : c0s is { } cs ? cs.Slice(index * stepSize, stepSize) : result.ZeroState!.All,
                        Output = cache.Stacked.Slice(d * outPerDir, outPerDir),
                    };
                    cache.Directions[d] = dc;
                    if (training && actsWidth > 0)
                        dc.Acts = ops.Allocate((long)steps * batch * actsWidth);
                    if (storeCells)
                        dc.Cells = ops.Allocate(steps * stepSize);
                    if (training && o.ProjSize > 0)
                        dc.HRaw = ops.Allocate(steps * stepSize);

                    // xproj [T·B, G] = input [T·B, I_k] · W_ih^T.
                    ops.Gemm(GemmShape.Dense(steps * batch, g, inputK, false, true), Num<T>.One, input, p.WeightIh.Value.Data, Num<T>.Zero, xproj.All);
                    BufferSlice<T>? bih = p.BiasIh?.Value.Data;
                    BufferSlice<T>? bhh = p.BiasHh?.Value.Data;
                    BufferSlice<T> CSlot(int t, int s) => storeCells ? dc.Cells!.Slice(t * stepSize, stepSize) : cPing!.Slice((s & 1) * stepSize, stepSize);
                    for (int s = 0; s < steps; s++)
                    {
                        int t = d == 0 ? s : steps - 1 - s;
                        int n = Active(plan, batch, steps, t);
                        if (n == 0)
                            continue;
                        var h = dc.Output.Slice(t * outStep, outStep);
                        var c = cell.HasCellState ? CSlot(t, s) : default;
                        var acts = training && actsWidth > 0 ? dc.Acts!.Slice((long)t * batch * actsWidth, (long)batch * actsWidth) : default;
                        var hCell = o.ProjSize == 0 ? h : training ? dc.HRaw!.Slice(t * stepSize, stepSize) : hRawTmp!.All;
                        foreach (var seg in Segments(plan, batch, steps, d, t))
                        {
                            int rows = seg.End - seg.Start;
                            int tPrev = d == 0 ? t - 1 : t + 1;
                            var hPrev = seg.FromInitial ? dc.H0 : dc.Output.Slice(tPrev * outStep, outStep);
                            var cPrev = !cell.HasCellState ? default : seg.FromInitial ? dc.C0 : CSlot(tPrev, s - 1);
                            var hp = Rows(hPrev, seg.Start, rows, outSize);
                            var hpj = Rows(hproj.All, seg.Start, rows, g);
                            // hproj [b, G] = h_prev [b, H_out] · W_hh^T.
                            ops.Gemm(GemmShape.Dense(rows, g, outSize, false, true), Num<T>.One, hp, p.WeightHh.Value.Data, Num<T>.Zero, hpj);
                            cell.Forward(ops, rows, hidden, new CellForwardStep<T>(
                                Rows(xproj.Slice(t * gateStep, gateStep), seg.Start, rows, g), hpj, bih, bhh, hp,
                                cell.HasCellState ? Rows(cPrev, seg.Start, rows, hidden) : default,
                                Rows(hCell, seg.Start, rows, hidden),
                                cell.HasCellState ? Rows(c, seg.Start, rows, hidden) : default,
                                actsWidth > 0 && training ? Rows(acts, seg.Start, rows, actsWidth) : null));
                        }

                        if (o.ProjSize > 0)
                        {
                            // h [n, P] = (o ⊙ tanh(c)) [n, H] · W_hr^T.
                            ops.Gemm(GemmShape.Dense(n, outSize, hidden, false, true), Num<T>.One, Rows(hCell, 0, n, hidden), p.WeightHr!.Value.Data, Num<T>.Zero, Rows(h, 0, n, outSize));
                        }

                        yield return true;
                    }

                    // h_n, c_n: each row's state at its own last step (h0, c0 for length 0).
                    var hn = hnSorted.Slice(index * outStep, outStep);
                    var cn = cnSorted?.Slice(index * stepSize, stepSize);
                    foreach (var (start, end, length) in LengthGroups(plan, batch, steps))
                    {
                        int rows = end - start;
                        int tLast = d == 0 ? length - 1 : 0;
                        var hSrc = length == 0 ? dc.H0 : dc.Output.Slice(tLast * outStep, outStep);
                        ops.Copy(Rows(hSrc, start, rows, outSize), Rows(hn, start, rows, outSize));
                        if (cn is { } cnv)
                        {
                            var cSrc = length == 0 ? dc.C0 : CSlot(tLast, d == 0 ? length - 1 : steps - 1);
                            ops.Copy(Rows(cSrc, start, rows, hidden), Rows(cnv, start, rows, hidden));
                        }
                    }
                }

                RunDirections(dirs, ForwardDirection);
                if (dirs == 1)
                {
                    cache.Output = cache.Stacked.All;
                }
                else
                {
                    // [2, T·B, H_out] → [T·B, 2, H_out] = [T, B, 2·H_out]: the directions side by side.
                    cache.Concat = ops.Allocate(dirs * outPerDir);
                    ops.SwapAxes01(dirs, steps * batch, outSize, cache.Stacked.All, cache.Concat.All);
                    cache.Output = cache.Concat.All;
                }

                input = cache.Output;
                if (training && o.Dropout > 0 && k < layers - 1)
                {
                    // The next layer reads dropout(output), keyed by (seed, layer k, element of the
                    // seq-first output in the caller's row order).
                    cache.Dropped = ops.Allocate(dirs * outPerDir);
                    ApplyDropout(ops, plan, steps, dirs * outSize, (ulong)k, cache.Output, cache.Dropped.All);
                    input = cache.Dropped.All;
                }
            }
        }
        finally
        {
            for (int d = 0; d < dirs; d++)
            {
                xprojs[d]?.Dispose();
                hprojs[d]?.Dispose();
                cPings[d]?.Dispose();
                hRawTmps[d]?.Dispose();
            }
        }

        var top = result.Layers[^1].Output;
        int width = dirs * outSize;
        using var topOwned = plan is { Identity: false } ? Gather(ops, width, steps, plan.Inverse, top) : null;
        if (topOwned is not null)
            top = topOwned.All;
        if (o.BatchFirst)
        {
            result.Output = Tensor<T>.Zeros(Device, batch, steps, width);
            ops.SwapAxes01(steps, batch, width, top, result.Output.Data);
        }
        else
        {
            result.Output = Tensor<T>.Zeros(Device, steps, batch, width);
            ops.Copy(top, result.Output.Data);
        }

        result.HN = Tensor<T>.Zeros(Device, layers * dirs, batch, outSize);
        Restore(ops, outSize, layers * dirs, plan, hnSorted.All, result.HN.Data);
        if (cnSorted is not null)
        {
            result.CellState = Tensor<T>.Zeros(Device, layers * dirs, batch, hidden);
            Restore(ops, hidden, layers * dirs, plan, cnSorted.All, result.CellState.Data);
        }

        if (!training)
            result.ReleaseCache();
    }

    /// <summary>Back-propagates through a training forward, filling <paramref name="grads"/> and accumulating parameter gradients.</summary>
    public void Backward(RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN, RecurrentGradients<T> grads)
    {
        var o = Config;
        var cell = Cell;
        var plan = forward.Plan;
        bool permuted = plan is { Identity: false };
        int steps = forward.Steps;
        int batch = forward.Batch;
        int hidden = o.HiddenSize;
        int outSize = o.OutSize;
        int proj = o.ProjSize;
        int dirs = o.Directions;
        int layers = o.NumLayers;
        int g = cell.Gates * hidden;
        int actsWidth = cell.ActsPerHidden * hidden;
        long stepSize = (long)batch * hidden;
        long outStep = (long)batch * outSize;
        long gateStep = (long)batch * g;
        long outPerDir = steps * outStep;
        var ops = Ops;

        using var dh0Sorted = ops.Allocate(layers * dirs * outStep);
        using var dc0Sorted = cell.HasCellState ? ops.Allocate(layers * dirs * stepSize) : null;
        using var zeros = ops.Allocate(Math.Max(dirs * outPerDir, stepSize));

        // Each direction's scratch, on its own lane: dgates (and GRU's dgates_h) [T, B, G], the
        // recurrent dh [B, H_out] (two for GRU), dc [B, H], and with a projection dh_t [T, B, P] and d(o ⊙ tanh c) [B, H].
        var laneOps = DirectionOps(dirs);
        var scratch = new List<DeviceBuffer<T>>();
        DeviceBuffer<T> Own(DeviceBuffer<T> b)
        {
            scratch.Add(b);
            return b;
        }

        var dgatesOf = new DeviceBuffer<T>[dirs];
        var dgatesHOf = new DeviceBuffer<T>[dirs];
        var dhRecAOf = new DeviceBuffer<T>[dirs];
        var dhRecBOf = new DeviceBuffer<T>?[dirs];
        var dcOf = new DeviceBuffer<T>[dirs];
        var dhSumOf = new DeviceBuffer<T>?[dirs];
        var dhRawOf = new DeviceBuffer<T>?[dirs];
        for (int d = 0; d < dirs; d++)
        {
            var lane = laneOps[d];
            dgatesOf[d] = Own(lane.Allocate((long)steps * gateStep));
            dgatesHOf[d] = cell.SeparateHiddenGradient ? Own(lane.Allocate((long)steps * gateStep)) : dgatesOf[d];
            dhRecAOf[d] = Own(lane.Allocate(outStep));
            dhRecBOf[d] = cell.SeparateHiddenGradient ? Own(lane.Allocate(outStep)) : null;
            dcOf[d] = Own(lane.Allocate(stepSize));
            dhSumOf[d] = proj > 0 ? Own(lane.Allocate(outPerDir)) : null;
            dhRawOf[d] = proj > 0 ? Own(lane.Allocate(stepSize)) : null;
        }

        using var dySplit = dirs > 1 ? ops.Allocate(dirs * outPerDir) : null;
        using var dhnSorted = permuted && dHN is not null ? Gather(ops, outSize, layers * dirs, plan!.Perm, dHN.Data) : null;
        using var dcnSorted = permuted && dCN is not null ? Gather(ops, hidden, layers * dirs, plan!.Perm, dCN.Data) : null;
        BufferSlice<T>? dhn = dhnSorted?.All ?? dHN?.Data;
        BufferSlice<T>? dcn = dcnSorted?.All ?? dCN?.Data;

        // d loss / d (top layer's output), time-major [T, B, D·H_out], rows sorted.
        DeviceBuffer<T>? dyOwned = null;
        BufferSlice<T> dy;
        if (dOutput is null)
        {
            dy = zeros.Slice(0, dirs * outPerDir);
        }
        else if (o.BatchFirst)
        {
            dyOwned = ops.Allocate(dirs * outPerDir);
            ops.SwapAxes01(batch, steps, dirs * outSize, dOutput.Data, dyOwned.All);
            dy = dyOwned.All;
        }
        else
        {
            dy = dOutput.Data;
        }

        try
        {
            if (permuted && dOutput is not null)
            {
                var sorted = Gather(ops, dirs * outSize, steps, plan!.Perm, dy);
                dyOwned?.Dispose();
                dyOwned = sorted;
                dy = sorted.All;
            }

            for (int k = layers - 1; k >= 0; k--)
            {
                var cache = forward.Layers[k];
                int inputK = o.LayerInput(k);
                if (dirs > 1)
                {
                    // [T·B, 2, H_out] → [2, T·B, H_out]: each direction's dy contiguous.
                    ops.SwapAxes01(steps * batch, dirs, outSize, dy, dySplit!.All);
                }

                var dInput = ops.Allocate((long)steps * batch * inputK);
                var layerDy = dy;
                int layer = k;

                IEnumerable<bool> BackwardDirection(int d)
                {
                    var ops = laneOps[d];
                    var dgates = dgatesOf[d];
                    var dgatesH = dgatesHOf[d];
                    var dhRecA = dhRecAOf[d];
                    var dhRecB = dhRecBOf[d];
                    var dc = dcOf[d];
                    var dhSum = dhSumOf[d];
                    var dhRaw = dhRawOf[d];
                    var dy = layerDy;
                    int k = layer;
                    var p = _params[k * dirs + d];
                    var dcache = cache.Directions[d];
                    int index = k * dirs + d;
                    var dyDir = dirs == 1 ? dy : dySplit!.Slice(d * outPerDir, outPerDir);
                    var dh0 = dh0Sorted.Slice(index * outStep, outStep);
                    var dc0 = dc0Sorted?.Slice(index * stepSize, stepSize);
                    var dhRec = dhRecA.All;
                    var dhNext = dhRecB?.All ?? dhRecA.All;
                    foreach (var buffer in dhRecB is null ? [dhRecA] : new[] { dhRecA, dhRecB })
                    {
                        if (dhn is { } v)
                            ops.Copy(v.Slice(index * outStep, outStep), buffer.All);
                        else
                            ops.Fill(buffer.All, Num<T>.Zero);
                    }

                    if (cell.HasCellState)
                    {
                        if (dcn is { } v)
                            ops.Copy(v.Slice(index * stepSize, stepSize), dc.All);
                        else
                            ops.Fill(dc.All, Num<T>.Zero);
                    }

                    var whh = p.WeightHh.Value.Data;
                    for (int s = steps - 1; s >= 0; s--)
                    {
                        int t = d == 0 ? s : steps - 1 - s;
                        int n = Active(plan, batch, steps, t);
                        if (n == 0)
                            continue;
                        int tPrev = d == 0 ? t - 1 : t + 1;
                        var dgT = dgates.Slice(t * gateStep, gateStep);
                        var dgHT = dgatesH.Slice(t * gateStep, gateStep);
                        var c = cell.HasCellState ? dcache.Cells!.Slice(t * stepSize, stepSize) : default;
                        var acts = actsWidth > 0 ? dcache.Acts!.Slice((long)t * batch * actsWidth, (long)batch * actsWidth) : default;
                        var dyT = dyDir.Slice(t * outStep, outStep);
                        BufferSlice<T> cellDy, cellDhRec, hCell;
                        if (proj > 0)
                        {
                            // dh_t [n, P] = dy_t + dh_rec (kept for dW_hr); d(o ⊙ tanh c) [n, H] = dh_t · W_hr.
                            var dhs = Rows(dhSum!.Slice(t * outStep, outStep), 0, n, outSize);
                            ops.Copy(Rows(dyT, 0, n, outSize), dhs);
                            ops.Axpy(Num<T>.One, Rows(dhRec, 0, n, outSize), dhs);
                            ops.Gemm(GemmShape.Dense(n, hidden, proj, false, false), Num<T>.One, dhs, p.WeightHr!.Value.Data, Num<T>.Zero, Rows(dhRaw!.All, 0, n, hidden));
                            cellDy = dhRaw.All;
                            cellDhRec = zeros.Slice(0, stepSize);
                            hCell = dcache.HRaw!.Slice(t * stepSize, stepSize);
                        }
                        else
                        {
                            cellDy = dyT;
                            cellDhRec = dhRec;
                            hCell = dcache.Output.Slice(t * outStep, outStep);
                        }

                        foreach (var seg in Segments(plan, batch, steps, d, t))
                        {
                            int rows = seg.End - seg.Start;
                            var hPrev = seg.FromInitial ? dcache.H0 : dcache.Output.Slice(tPrev * outStep, outStep);
                            var cPrev = !cell.HasCellState ? default : seg.FromInitial ? dcache.C0 : dcache.Cells!.Slice(tPrev * stepSize, stepSize);
                            cell.Backward(ops, rows, hidden, new CellBackwardStep<T>(
                                Rows(cellDy, seg.Start, rows, hidden),
                                Rows(cellDhRec, seg.Start, rows, hidden),
                                cell.HasCellState ? Rows(dc.All, seg.Start, rows, hidden) : default,
                                actsWidth > 0 ? Rows(acts, seg.Start, rows, actsWidth) : default,
                                Rows(hCell, seg.Start, rows, hidden),
                                Rows(hPrev, seg.Start, rows, outSize),
                                cell.HasCellState ? Rows(c, seg.Start, rows, hidden) : default,
                                cell.HasCellState ? Rows(cPrev, seg.Start, rows, hidden) : default,
                                Rows(dgT, seg.Start, rows, g),
                                Rows(dgHT, seg.Start, rows, g),
                                Rows(dhNext, seg.Start, rows, outSize)));
                        }

                        // dh_{t-1} [n, H_out] (+)= dgates_h [n, G] · W_hh [G, H_out].
                        ops.Gemm(GemmShape.Dense(n, outSize, g, false, false), Num<T>.One, Rows(dgHT, 0, n, g), whh, cell.SeparateHiddenGradient ? Num<T>.One : Num<T>.Zero, Rows(dhNext, 0, n, outSize));
                        foreach (var seg in Segments(plan, batch, steps, d, t))
                        {
                            if (!seg.FromInitial)
                                continue;
                            // These rows began at this step: their gradient is dh0 (and dc0).
                            int rows = seg.End - seg.Start;
                            ops.Copy(Rows(dhNext, seg.Start, rows, outSize), Rows(dh0, seg.Start, rows, outSize));
                            if (dc0 is { } dc0v)
                                ops.Copy(Rows(dc.All, seg.Start, rows, hidden), Rows(dc0v, seg.Start, rows, hidden));
                        }

                        (dhRec, dhNext) = (dhNext, dhRec);
                        if (!cell.SeparateHiddenGradient)
                            dhNext = dhRec;
                        yield return true;
                    }

                    // Rows of length 0: h_n is h0 (c_n is c0).
                    int live = Active(plan, batch, steps, 0);
                    if (live < batch)
                    {
                        int rows = batch - live;
                        if (dhn is { } v)
                            ops.Copy(Rows(v.Slice(index * outStep, outStep), live, rows, outSize), Rows(dh0, live, rows, outSize));
                        if (dc0 is { } dc0v && dcn is { } w)
                            ops.Copy(Rows(w.Slice(index * stepSize, stepSize), live, rows, hidden), Rows(dc0v, live, rows, hidden));
                    }

                    // dW_hh [G, H_out] += Σ_t dgates_h,t^T · h_prev(t): rows that begin at step t read h0, the others the previous output.
                    var dWhh = p.WeightHh.Grad.Data;
                    for (int t = 0; t < steps; t++)
                    {
                        foreach (var seg in Segments(plan, batch, steps, d, t))
                        {
                            if (!seg.FromInitial)
                                continue;
                            int rows = seg.End - seg.Start;
                            ops.Gemm(GemmShape.Dense(g, outSize, rows, true, false), Num<T>.One, Rows(dgatesH.Slice(t * gateStep, gateStep), seg.Start, rows, g), Rows(dcache.H0, seg.Start, rows, outSize), Num<T>.One, dWhh);
                        }
                    }

                    if (steps > 1)
                    {
                        long gateFrom = d == 0 ? gateStep : 0;
                        long hFrom = d == 0 ? 0 : outStep;
                        ops.Gemm(
                            GemmShape.Dense(g, outSize, (steps - 1) * batch, true, false), Num<T>.One,
                            dgatesH.Slice(gateFrom, (steps - 1) * gateStep), dcache.Output.Slice(hFrom, (steps - 1) * outStep), Num<T>.One, dWhh);
                    }

                    // dW_ih [G, I_k] += dgates^T [G, T·B] · input [T·B, I_k] (rows past their length hold zeros).
                    ops.Gemm(GemmShape.Dense(g, inputK, steps * batch, true, false), Num<T>.One, dgates.All, cache.Input, Num<T>.One, p.WeightIh.Grad.Data);
                    if (p.BiasIh is { } bih && p.BiasHh is { } bhh)
                    {
                        ops.SumRows(steps * batch, g, dgates.All, Num<T>.One, bih.Grad.Data);
                        ops.SumRows(steps * batch, g, dgatesH.All, Num<T>.One, bhh.Grad.Data);
                    }

                    if (p.WeightHr is { } whr)
                    {
                        // dW_hr [P, H] += dh^T [P, T·B] · (o ⊙ tanh c) [T·B, H].
                        ops.Gemm(GemmShape.Dense(proj, hidden, steps * batch, true, false), Num<T>.One, dhSum!.All, dcache.HRaw!.All, Num<T>.One, whr.Grad.Data);
                    }
                }

                RunDirections(dirs, BackwardDirection);
                for (int d = 0; d < dirs; d++)
                {
                    // d input [T·B, I_k] (+)= dgates [T·B, G] · W_ih [G, I_k]: the layer below's dy (or dx), directions in order.
                    ops.Gemm(GemmShape.Dense(steps * batch, inputK, g, false, false), Num<T>.One, dgatesOf[d].All, _params[k * dirs + d].WeightIh.Value.Data, d == 0 ? Num<T>.Zero : Num<T>.One, dInput.All);
                }

                if (k > 0 && forward.Layers[k - 1].Dropped is not null)
                {
                    // Back through the dropout on layer k-1's output: the same mask on the gradient.
                    ApplyDropout(ops, plan, steps, dirs * outSize, (ulong)(k - 1), dInput.All, dInput.All);
                }

                dyOwned?.Dispose();
                dyOwned = dInput;
                dy = dInput.All;
            }

            int[] xShape = o.BatchFirst ? [batch, steps, o.InputSize] : [steps, batch, o.InputSize];
            grads.DX = Tensor<T>.Zeros(Device, xShape);
            if (permuted)
            {
                var restored = Gather(ops, o.InputSize, steps, plan!.Inverse, dy);
                dyOwned?.Dispose();
                dyOwned = restored;
                dy = restored.All;
            }

            if (o.BatchFirst)
                ops.SwapAxes01(steps, batch, o.InputSize, dy, grads.DX.Data);
            else
                ops.Copy(dy, grads.DX.Data);
        }
        finally
        {
            dyOwned?.Dispose();
            foreach (var b in scratch)
                b.Dispose();
        }

        grads.DH0 = Tensor<T>.Zeros(Device, layers * dirs, batch, outSize);
        Restore(ops, outSize, layers * dirs, plan, dh0Sorted.All, grads.DH0.Data);
        if (dc0Sorted is not null)
        {
            grads.DC0State = Tensor<T>.Zeros(Device, layers * dirs, batch, hidden);
            Restore(ops, hidden, layers * dirs, plan, dc0Sorted.All, grads.DC0State.Data);
        }
    }

    /// <summary>
    /// y = dropout(x) for a layer output [T, B, W] time-major with rows sorted by the plan: the mask
    /// is keyed by the element's index in the caller's row order, so rows are restored first.
    /// </summary>
    private void ApplyDropout(IDeviceOps<T> ops, LengthPlan? plan, int steps, int width, ulong layer, BufferSlice<T> x, BufferSlice<T> y)
    {
        var p = Num<T>.From(Config.Dropout);
        if (plan is not { Identity: false })
        {
            ops.Dropout(DropoutSeed, layer, 0, p, x, y);
            return;
        }

        using var callerOrder = Gather(ops, width, steps, plan.Inverse, x);
        ops.Dropout(DropoutSeed, layer, 0, p, callerOrder.All, callerOrder.All);
        using var sorted = Gather(ops, width, steps, plan.Perm, callerOrder.All);
        ops.Copy(sorted.All, y);
    }

    /// <summary>n_t: rows active at step t (rows are sorted by length, so they are the first n_t).</summary>
    private static int Active(LengthPlan? plan, int batch, int steps, int t) =>
        t < 0 || t >= steps ? 0 : plan is null ? batch : plan.Active[t];

    /// <summary>
    /// The active rows of step t in runs by where their previous state comes from: the previous
    /// step's output, or h0/c0 for rows that begin at t (every row at t = 0 forward; rows whose
    /// own last step is t in the reverse direction).
    /// </summary>
    private static IEnumerable<(int Start, int End, bool FromInitial)> Segments(LengthPlan? plan, int batch, int steps, int direction, int t)
    {
        int n = Active(plan, batch, steps, t);
        int carried = direction == 0 ? (t == 0 ? 0 : n) : Active(plan, batch, steps, t + 1);
        if (carried > 0)
            yield return (0, carried, false);
        if (n > carried)
            yield return (carried, n, true);
    }

    /// <summary>Runs of rows with one length (sorted rows), or all rows with length T.</summary>
    private static IEnumerable<(int Start, int End, int Length)> LengthGroups(LengthPlan? plan, int batch, int steps)
    {
        if (plan is null)
        {
            yield return (0, batch, steps);
            yield break;
        }

        int start = 0;
        for (int r = 1; r <= batch; r++)
        {
            if (r == batch || plan.Sorted[r] != plan.Sorted[start])
            {
                yield return (start, r, plan.Sorted[start]);
                start = r;
            }
        }
    }

    /// <summary>Rows [start, start + rows) of a [B, width] slice.</summary>
    private static BufferSlice<T> Rows(BufferSlice<T> s, int start, int rows, int width) =>
        s.Slice((long)start * width, (long)rows * width);

    /// <summary>A new buffer [blocks, B, width] whose row b of each block is row perm[b] of the source's block.</summary>
    private static DeviceBuffer<T> Gather(IDeviceOps<T> ops, int width, int blocks, int[] perm, BufferSlice<T> source)
    {
        var index = BlockIndex(blocks, perm);
        var destination = ops.Allocate((long)index.Length * width);
        ops.GatherRows(width, index, source, destination.All);
        return destination;
    }

    /// <summary>Copies sorted rows [blocks, B, width] into the caller's row order.</summary>
    private static void Restore(IDeviceOps<T> ops, int width, int blocks, LengthPlan? plan, BufferSlice<T> sorted, BufferSlice<T> destination)
    {
        if (plan is not { Identity: false })
        {
            ops.Copy(sorted, destination);
            return;
        }

        ops.GatherRows(width, BlockIndex(blocks, plan.Inverse), sorted, destination);
    }

    /// <summary>The row index of a permutation applied to each of <paramref name="blocks"/> blocks of B rows.</summary>
    private static int[] BlockIndex(int blocks, int[] perm)
    {
        int batch = perm.Length;
        var index = new int[blocks * batch];
        for (int j = 0; j < blocks; j++)
        {
            for (int r = 0; r < batch; r++)
                index[j * batch + r] = j * batch + perm[r];
        }

        return index;
    }

    /// <summary>Runs one chunk of steps (inference) from a carried state; returns the chunk's output and the new state.</summary>
    public (Tensor<T> Output, RecurrentState<T> State) Step(object owner, Tensor<T> x, RecurrentState<T>? state)
    {
        if (Config.Bidirectional)
            throw new LstmException($"Step streams a sequence chunk by chunk, which a bidirectional {Cell.Name} cannot do (its reverse direction starts at the end)");
        var (steps, batch) = CheckInputs(x, state?.H, state?.C);
        var result = new RecurrentResult<T>(owner, steps, batch, training: false);
        try
        {
            Forward(x, state?.H, state?.C, false, result);
            var output = result.Output;
            var next = new RecurrentState<T>(result.HN, result.CellState);
            result.Output = null!;
            result.HN = null!;
            result.CellState = null;
            return (output, next);
        }
        finally
        {
            result.Dispose();
        }
    }

    /// <summary>Checks x, h0 and c0 against the configuration; returns T and B.</summary>
    public (int Steps, int Batch) CheckInputs(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0)
    {
        ArgumentNullException.ThrowIfNull(x);
        var o = Config;
        if (!ReferenceEquals(x.Device, Device))
            throw new LstmException($"x is on device {x.Device.Name} but the {Cell.Name} is on {Device.Name}");
        string layout = o.BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]";
        if (x.Shape.Count != 3 || x.Shape[2] != o.InputSize)
            throw new LstmException($"x has shape {x.ShapeString}; expected {layout} with input_size {o.InputSize}");
        int steps = o.BatchFirst ? x.Shape[1] : x.Shape[0];
        int batch = o.BatchFirst ? x.Shape[0] : x.Shape[1];
        if (steps < 1 || batch < 1)
            throw new LstmException($"x has shape {x.ShapeString}; seq_len and batch must be at least 1");
        CheckShape("h0", h0, [o.NumLayers * o.Directions, batch, o.OutSize]);
        CheckShape("c0", c0, [o.NumLayers * o.Directions, batch, o.HiddenSize]);
        return (steps, batch);
    }

    /// <summary>Checks the sequence lengths (one per row, each in [0, T]) and sorts the rows by them.</summary>
    public static LengthPlan? PlanLengths(IReadOnlyList<int>? lengths, int steps, int batch)
    {
        if (lengths is null)
            return null;
        if (lengths.Count != batch)
            throw new LstmException($"lengths has {lengths.Count} entries; expected one per sequence (batch = {batch})");
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 0 || lengths[b] > steps)
                throw new LstmException($"lengths[{b}] = {lengths[b]} is outside [0, seq_len = {steps}]");
        }

        return new LengthPlan(lengths.ToArray(), steps);
    }

    /// <summary>Checks that a forward result can be back-propagated by this engine and the upstream gradients' shapes.</summary>
    public void CheckBackward(RecurrentResult<T> forward, object owner, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN)
    {
        ArgumentNullException.ThrowIfNull(forward);
        var o = Config;
        if (!forward.Training || forward.Layers.Count != o.NumLayers)
            throw new InvalidOperationException("Backward needs the result of a Forward with training: true that has not been disposed");
        if (!ReferenceEquals(forward.Owner, owner))
            throw new InvalidOperationException($"Backward was given the result of another {Cell.Name}'s Forward");
        int steps = forward.Steps;
        int batch = forward.Batch;
        int width = o.Directions * o.OutSize;
        int[] outShape = o.BatchFirst ? [batch, steps, width] : [steps, batch, width];
        CheckShape("dOutput", dOutput, outShape);
        CheckShape("dh_n", dHN, [o.NumLayers * o.Directions, batch, o.OutSize]);
        CheckShape("dc_n", dCN, [o.NumLayers * o.Directions, batch, o.HiddenSize]);
    }

    private void CheckShape(string name, Tensor<T>? t, int[] expected)
    {
        if (t is null)
            return;
        if (!ReferenceEquals(t.Device, Device))
            throw new LstmException($"{name} is on device {t.Device.Name} but the {Cell.Name} is on {Device.Name}");
        if (!t.HasShape(expected))
            throw new LstmException($"{name} has shape {t.ShapeString}; expected {Tensor<T>.FormatShape(expected)}");
    }

    public void Dispose()
    {
        foreach (var p in Parameters())
            p.Dispose();
    }
}

/// <summary>What one direction of one layer keeps for the backward pass (time-major buffers).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionCache<T> : IDisposable where T : unmanaged
{
    /// <summary>h0 of this direction [B, H_out] (not owned).</summary>
    public BufferSlice<T> H0 { get; init; }

    /// <summary>c0 of this direction [B, H] (not owned; LSTM).</summary>
    public BufferSlice<T> C0 { get; init; }

    /// <summary>h_t for every t [T, B, H_out], indexed by time (a slice of the layer's stacked buffer).</summary>
    public BufferSlice<T> Output { get; init; }

    /// <summary>c_t for every step [T, B, H] (training, LSTM).</summary>
    public DeviceBuffer<T>? Cells { get; set; }

    /// <summary>The cell's stored activations for every step [T, B, A·H] (training).</summary>
    public DeviceBuffer<T>? Acts { get; set; }

    /// <summary>o ⊙ tanh(c_t) before the projection [T, B, H] (training, proj_size &gt; 0).</summary>
    public DeviceBuffer<T>? HRaw { get; set; }

    public void Dispose()
    {
        Cells?.Dispose();
        Acts?.Dispose();
        HRaw?.Dispose();
        Cells = null;
        Acts = null;
        HRaw = null;
    }
}

/// <summary>What one layer's forward keeps (time-major buffers).</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class LayerCache<T> : IDisposable where T : unmanaged
{
    /// <summary>The layer's input [T, B, I_k] (not owned).</summary>
    public BufferSlice<T> Input { get; set; }

    /// <summary>Each direction's h for every step, stacked [D, T, B, H_out].</summary>
    public DeviceBuffer<T>? Stacked { get; set; }

    /// <summary>[T, B, 2·H_out]: the directions side by side (bidirectional only).</summary>
    public DeviceBuffer<T>? Concat { get; set; }

    /// <summary>[T, B, D·H_out]: dropout of the output, the next layer's input (training with dropout, all layers but the last).</summary>
    public DeviceBuffer<T>? Dropped { get; set; }

    /// <summary>The layer's output [T, B, D·H_out] (a view of <see cref="Stacked"/> or <see cref="Concat"/>).</summary>
    public BufferSlice<T> Output { get; set; }

    public List<DirectionCache<T>> Directions { get; } = [];

    public void Dispose()
    {
        foreach (var d in Directions)
            d?.Dispose();
        Directions.Clear();
        Stacked?.Dispose();
        Concat?.Dispose();
        Dropped?.Dispose();
        Stacked = null;
        Concat = null;
        Dropped = null;
    }
}


/// <summary>
/// How a variable-length batch runs: rows sorted by length (descending, stable), so the rows
/// active at step t are the first <see cref="Active"/>[t].
/// </summary>
internal sealed class LengthPlan
{
    public LengthPlan(int[] lengths, int steps)
    {
        int batch = lengths.Length;
        Perm = Enumerable.Range(0, batch).OrderByDescending(b => lengths[b]).ThenBy(b => b).ToArray();
        Inverse = new int[batch];
        for (int r = 0; r < batch; r++)
            Inverse[Perm[r]] = r;
        Sorted = Perm.Select(b => lengths[b]).ToArray();
        Identity = Perm.Select((b, r) => b == r).All(x => x);
        Active = new int[steps];
        for (int t = 0; t < steps; t++)
            Active[t] = Sorted.Count(l => l > t);
    }

    /// <summary>Sorted row r is the caller's row Perm[r].</summary>
    public int[] Perm { get; }

    /// <summary>The caller's row b is sorted row Inverse[b].</summary>
    public int[] Inverse { get; }

    /// <summary>Lengths in sorted order (descending).</summary>
    public int[] Sorted { get; }

    /// <summary>True when the rows are already sorted (no gather needed).</summary>
    public bool Identity { get; }

    /// <summary>n_t: how many rows have length &gt; t.</summary>
    public int[] Active { get; }
}
