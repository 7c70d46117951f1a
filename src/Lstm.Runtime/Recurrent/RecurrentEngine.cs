using System.Globalization;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Recurrent.Cells;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

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
/// Each direction of each layer runs as docs/design.md describes: one input GEMM [T·B, I_k] × [I_k, G]
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
/// Stacked one-direction layers run as a wavefront over blocks of steps (<see cref="Wavefront"/>,
/// docs/design.md's item 4): layer k on lane k works on block b while layer k+1 works on block b−1,
/// each layer above the first projecting its input one block at a time (the same rows, bit for
/// bit, as the GEMM over all steps: <see cref="IDeviceOps{T}.GemmRows"/>) and dropout applied
/// to each finished block with the element indices of the whole output. Backward mirrors it:
/// layer k+1's d input for block b (dgates · W_ih over the block, then back through the dropout)
/// lets layer k start on block b while layer k+1 goes on with block b−1; each layer's weight
/// gradients are still the GEMMs over all steps once its steps are done, so every result equals
/// the layer-after-layer run bit for bit. Bidirectional layers do not overlap: layer k+1's
/// forward direction needs layer k's reverse direction, which ends at step 0, so every step of
/// layer k comes first (their two directions still run concurrently).
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

    /// <summary>
    /// True (the default): an LSTM direction's time loop runs as one operation on devices that
    /// have it (<see cref="ILstmSequenceOps{T}"/>: <c>cpu</c>); false: one operation per step. The
    /// results are the same, bit for bit.
    /// </summary>
    internal bool WholeLoops { get; set; } = true;

    /// <summary>
    /// True: stacked one-direction layers (L ≥ 2) run as a wavefront over blocks of
    /// <see cref="WavefrontBlock"/> steps, layer k on lane k (<see cref="ComputeDevice.Ops{T}(int)"/>):
    /// forward, layer k works on block b while layer k+1 works on block b−1; backward, the same in
    /// reverse. False: one layer after the other (the results are the same, bit for bit).
    /// Bidirectional layers never overlap: layer k+1 needs every step of layer k.
    /// </summary>
    /// <remarks>
    /// The default is on for ILGPU devices (a GPU runs the small per-step kernels of two layers on
    /// two streams side by side) and off on <c>cpu</c>, where each GEMM already keeps the cores
    /// busy and a thread per layer plus a hand-off per block cost more than the overlap gains
    /// (bench/RESULTS.md, "Scheduler: wavefront over layers").
    /// </remarks>
    internal bool Wavefront
    {
        get => _wavefront ?? Device.IsIlgpu;
        set => _wavefront = value;
    }

    private bool? _wavefront;

    /// <summary>Steps per block of the wavefront; 0 (the default) for ⌈T / 8⌉, so about 8 blocks.</summary>
    /// <exception cref="LstmException">A negative value.</exception>
    internal int WavefrontBlock
    {
        get => _wavefrontBlock;
        set => _wavefrontBlock = value >= 0 ? value : throw new LstmException($"wavefront block {value}: must be a number of steps ≥ 1, or 0 for ⌈T / 8⌉");
    }

    private int _wavefrontBlock;

    private IDeviceOps<T> Ops => Device.Ops<T>();

    /// <summary>Whether a run of T steps takes the wavefront: on, stacked (at most one layer per lane), one direction, more than one step.</summary>
    private bool UsesWavefront(int steps) =>
        Wavefront && Config.NumLayers > 1 && Config.NumLayers <= ComputeDevice.MaxLanes && Config.Directions == 1 && steps > 1;

    /// <summary>The wavefront's block of steps for T steps: <see cref="WavefrontBlock"/> (at most T), or ⌈T / 8⌉.</summary>
    private int BlockSteps(int steps) => Math.Min(steps, _wavefrontBlock > 0 ? _wavefrontBlock : Math.Max(1, (steps + 7) / 8));

    /// <summary>The operations layer k issues on in the wavefront: lane k.</summary>
    private IDeviceOps<T>[] LayerOps(int layers) => [.. Enumerable.Range(0, layers).Select(k => Device.Ops<T>(k))];

    /// <summary>The steps of each block of [0, T) cut every <paramref name="block"/> steps, in the order they are walked.</summary>
    private static int[] BlockLengths(int steps, int block, bool reverse)
    {
        int blocks = (steps + block - 1) / block;
        var lengths = new int[blocks];
        for (int b = 0; b < blocks; b++)
            lengths[b] = Math.Min(block, steps - b * block);
        if (reverse)
            Array.Reverse(lengths);
        return lengths;
    }

    /// <summary>
    /// Runs stages as a wavefront: stage j's work is an iterator that yields once per step and
    /// walks the blocks in <paramref name="blockLengths"/> order; its block i starts once stage j−1
    /// has finished its block i (what it reads), then the stage's tail runs (what follows the last
    /// step). Stage j issues on lane <paramref name="laneOf"/>(j). On an ILGPU device one host
    /// thread issues them in rounds, the later stages first, so that synchronizing stage j−1's
    /// stream before stage j's block i waits only for block i (ILGPU has no cross-stream events);
    /// the tails are issued after the last round. On <c>cpu</c> each stage runs on a thread of its
    /// own (stage 0 on the caller's), and a semaphore per pair hands over each finished block.
    /// </summary>
    private void RunWavefront(int stages, int[] blockLengths, Func<int, int> laneOf, Func<int, IEnumerable<bool>> stage)
    {
        var lanes = new IDeviceOps<T>[stages];
        for (int j = 0; j < stages; j++)
            lanes[j] = Device.Ops<T>(laneOf(j));
        // The other lanes read what lane 0 wrote (the input, buffers lane 0 allocated and zeroed).
        Device.Ops<T>(0).Synchronize();
        try
        {
            if (Device.IsIlgpu)
                IssueWavefront(stages, blockLengths, lanes, stage);
            else
                ThreadWavefront(stages, blockLengths, stage);
        }
        finally
        {
            for (int j = 0; j < stages; j++)
                lanes[j].Synchronize();
        }
    }

    /// <summary>The wavefront on an ILGPU device: one host thread, one stream per stage (see <see cref="RunWavefront"/>).</summary>
    internal static void IssueWavefront(int stages, int[] blockLengths, IDeviceOps<T>[] lanes, Func<int, IEnumerable<bool>> stage)
    {
        int blocks = blockLengths.Length;
        var walks = new IEnumerator<bool>[stages];
        try
        {
            for (int j = 0; j < stages; j++)
                walks[j] = stage(j).GetEnumerator();
            for (int round = 0; round < blocks + stages - 1; round++)
            {
                for (int j = stages - 1; j >= 0; j--)
                {
                    int i = round - j;
                    if (i < 0 || i >= blocks)
                        continue;
                    // Stage j-1 issued its block i in the previous round and nothing after it yet.
                    if (j > 0)
                        lanes[j - 1].Synchronize();
                    for (int s = 0; s < blockLengths[i]; s++)
                        walks[j].MoveNext();
                }
            }

            foreach (var walk in walks)
            {
                while (walk.MoveNext())
                {
                }
            }
        }
        finally
        {
            foreach (var walk in walks)
                walk?.Dispose();
        }
    }

    /// <summary>The wavefront on <c>cpu</c>: a thread per stage, a block hand-off per pair (see <see cref="RunWavefront"/>).</summary>
    internal static void ThreadWavefront(int stages, int[] blockLengths, Func<int, IEnumerable<bool>> stage)
    {
        int blocks = blockLengths.Length;
        var handOff = new SemaphoreSlim[stages - 1];
        for (int j = 0; j < stages - 1; j++)
            handOff[j] = new SemaphoreSlim(0);
        int failed = 0;
        var errors = new Exception?[stages];

        void Walk(int j)
        {
            bool finished = false;
            try
            {
                using var walk = stage(j).GetEnumerator();
                for (int i = 0; i < blocks; i++)
                {
                    if (j > 0)
                    {
                        handOff[j - 1].Wait();
                        if (Volatile.Read(ref failed) != 0)
                            return;
                    }

                    for (int s = 0; s < blockLengths[i]; s++)
                        walk.MoveNext();
                    if (j < stages - 1)
                        handOff[j].Release();
                }

                while (walk.MoveNext())
                {
                }

                finished = true;
            }
            catch (Exception e)
            {
                errors[j] = e;
            }
            finally
            {
                if (!finished)
                {
                    // Let the later stages stop instead of waiting for blocks that will not come.
                    Volatile.Write(ref failed, 1);
                    if (j < stages - 1)
                        handOff[j].Release(blocks);
                }
            }
        }

        try
        {
            var threads = new Task[stages - 1];
            for (int j = 1; j < stages; j++)
            {
                int stageIndex = j;
                threads[j - 1] = Task.Factory.StartNew(() => Walk(stageIndex), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }

            Walk(0);
            Task.WaitAll(threads);
        }
        finally
        {
            foreach (var semaphore in handOff)
                semaphore.Dispose();
        }

        // The earliest stage's failure is the one reported (the later ones only stopped).
        foreach (var e in errors)
        {
            if (e is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
    }

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

    /// <summary>
    /// The device's whole-loop LSTM operations when this layer's loops can take them: an LSTM
    /// without projection, outside the wavefront, every row as long as the sequence; else null.
    /// </summary>
    private ILstmSequenceOps<T>? SequenceOps(IDeviceOps<T> ops, LengthPlan? plan, int batch, int steps, bool wave) =>
        WholeLoops && ops is ILstmSequenceOps<T> sequence && Cell is LstmCell<T> && Config.ProjSize == 0 && !wave && steps > 0 && batch > 0
        && (plan is null || Array.TrueForAll(plan.Active, n => n == batch))
            ? sequence
            : null;

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
        // In the wavefront over layers each layer has its own, on its own lane (slot k, lane k).
        bool wave = UsesWavefront(steps);
        int block = wave ? BlockSteps(steps) : steps;
        int slots = wave ? layers : dirs;
        var laneOps = wave ? LayerOps(layers) : DirectionOps(dirs);
        var xprojs = new DeviceBuffer<T>[slots];
        var hprojs = new DeviceBuffer<T>[slots];
        var cPings = new DeviceBuffer<T>?[slots];
        var hRawTmps = new DeviceBuffer<T>?[slots];
        try
        {
            for (int slot = 0; slot < slots; slot++)
            {
                var lane = laneOps[slot];
                // Every step's rows are written (β = 0) before its cell reads them.
                xprojs[slot] = lane.AllocateUninitialized((long)steps * gateStep);
                hprojs[slot] = lane.Allocate(gateStep);
                cPings[slot] = storeCells || !cell.HasCellState ? null : lane.Allocate(2 * stepSize);
                hRawTmps[slot] = training || o.ProjSize == 0 ? null : lane.Allocate(stepSize);
            }

            bool Drops(int k) => training && o.Dropout > 0 && k < layers - 1;

            // Direction d of layer k over its input [T, B, I_k]. One direction (D = 1): the input
            // GEMM runs per block of steps in the wavefront (layers above the first), and dropout
            // is applied to each block of the output as soon as it is complete (one block of T
            // steps outside the wavefront). Yields once per step.
            IEnumerable<bool> ForwardDirection(int k, int d, LayerCache<T> cache, BufferSlice<T> input)
            {
                int slot = wave ? k : d;
                var ops = laneOps[slot];
                var xproj = xprojs[slot];
                var hproj = hprojs[slot];
                var cPing = cPings[slot];
                var hRawTmp = hRawTmps[slot];
                int inputK = o.LayerInput(k);
                int gemmBlock = wave && k > 0 ? block : steps;
                bool dropBlocks = dirs == 1 && Drops(k);
                var p = _params[k * dirs + d];
                int index = k * dirs + d;
                var dc = new DirectionCache<T>
                {
                    H0 = h0s is { } hs ? hs.Slice(index * outStep, outStep) : result.ZeroState!.Slice(0, outStep),
                    C0 = !cell.HasCellState ? default : c0s is { } cs ? cs.Slice(index * stepSize, stepSize) : result.ZeroState!.All,
                    Output = cache.Stacked!.Slice(d * outPerDir, outPerDir),
                };
                cache.Directions[d] = dc;
                if (training && actsWidth > 0)
                    dc.Acts = ops.Allocate((long)steps * batch * actsWidth);
                if (storeCells)
                    dc.Cells = ops.Allocate(steps * stepSize);
                if (training && o.ProjSize > 0)
                    dc.HRaw = ops.Allocate(steps * stepSize);

                BufferSlice<T>? bih = p.BiasIh?.Value.Data;
                BufferSlice<T>? bhh = p.BiasHh?.Value.Data;
                BufferSlice<T> CSlot(int t, int s) => storeCells ? dc.Cells!.Slice(t * stepSize, stepSize) : cPing!.Slice((s & 1) * stepSize, stepSize);

                void InputProjection(int t0, int count)
                {
                    // xproj [n·B, G] = input [n·B, I_k] · W_ih^T for steps t0 … t0+n-1 (each row as one GEMM over all T·B rows computes it).
                    ops.GemmRows(
                        GemmShape.Dense(count * batch, g, inputK, false, true), steps * batch, Num<T>.One,
                        input.Slice((long)t0 * batch * inputK, (long)count * batch * inputK), p.WeightIh.Value.Data, Num<T>.Zero,
                        xproj.Slice(t0 * gateStep, count * gateStep));
                }

                void RunStep(int s)
                {
                    int t = d == 0 ? s : steps - 1 - s;
                    int n = Active(plan, batch, steps, t);
                    if (n == 0)
                        return;
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
                }

                // Outside the wavefront the input GEMM is one block of all T steps, so the whole
                // loop (the same values, bit for bit) and the step loop share it.
                bool projected = false, whole = false;
                if (SequenceOps(ops, plan, batch, steps, wave) is { } sequence)
                {
                    InputProjection(0, steps);
                    projected = true;
                    whole = sequence.TryLstmSequenceForward(new LstmSequenceForward<T>(
                        steps, batch, hidden, d == 1, xproj.Slice(0, steps * gateStep), p.WeightHh.Value.Data, bih, bhh,
                        dc.H0, dc.C0, dc.Output, storeCells ? dc.Cells!.All : cPing!.All, storeCells,
                        training ? dc.Acts!.All : null, hproj.All));
                }

                if (whole)
                {
                    if (dropBlocks)
                        ApplyDropout(ops, plan, batch, 0, steps, outSize, (ulong)k, cache.Output, cache.Dropped!.All);
                    yield return true;
                }

                for (int s = whole ? steps : 0; s < steps; s++)
                {
                    if (s % gemmBlock == 0 && !projected)
                        InputProjection(d == 0 ? s : 0, d == 0 ? Math.Min(gemmBlock, steps - s) : steps);
                    RunStep(s);
                    if (dropBlocks && ((s + 1) % block == 0 || s == steps - 1))
                    {
                        // The next layer reads dropout(output), keyed by (seed, layer k, element of the
                        // seq-first output in the caller's row order): the block's steps, once complete.
                        int t0 = s / block * block;
                        ApplyDropout(ops, plan, batch, t0, s + 1 - t0, outSize, (ulong)k, cache.Output, cache.Dropped!.All);
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

            // Layer k's cache over its input; with one direction its output (and the dropped copy) is known before it runs.
            LayerCache<T> NewLayer(int k, BufferSlice<T> layerInput)
            {
                var cache = new LayerCache<T> { Input = layerInput };
                result.Layers.Add(cache);
                // With every row running every step, each direction writes all of its output.
                cache.Stacked = plan is null ? ops.AllocateUninitialized(dirs * outPerDir) : ops.Allocate(dirs * outPerDir);
                for (int d = 0; d < dirs; d++)
                    cache.Directions.Add(null!);
                if (dirs == 1)
                {
                    cache.Output = cache.Stacked.All;
                    if (Drops(k))
                        cache.Dropped = ops.Allocate(outPerDir);
                }

                return cache;
            }

            if (wave)
            {
                var caches = new LayerCache<T>[layers];
                for (int k = 0; k < layers; k++)
                {
                    caches[k] = NewLayer(k, input);
                    input = caches[k].Dropped?.All ?? caches[k].Output;
                }

                RunWavefront(layers, BlockLengths(steps, block, reverse: false), k => k, k => ForwardDirection(k, 0, caches[k], caches[k].Input));
            }
            else
            {
                for (int k = 0; k < layers; k++)
                {
                    var cache = NewLayer(k, input);
                    var layerInput = input;
                    int layer = k;
                    RunDirections(dirs, d => ForwardDirection(layer, d, cache, layerInput));
                    if (dirs == 1)
                    {
                        input = cache.Dropped?.All ?? cache.Output;
                        continue;
                    }

                    // [2, T·B, H_out] → [T·B, 2, H_out] = [T, B, 2·H_out]: the directions side by side.
                    cache.Concat = ops.Allocate(dirs * outPerDir);
                    ops.SwapAxes01(dirs, steps * batch, outSize, cache.Stacked!.All, cache.Concat.All);
                    cache.Output = cache.Concat.All;
                    input = cache.Output;
                    if (Drops(k))
                    {
                        // The next layer reads dropout(output), keyed by (seed, layer k, element of the
                        // seq-first output in the caller's row order).
                        cache.Dropped = ops.Allocate(dirs * outPerDir);
                        ApplyDropout(ops, plan, batch, 0, steps, dirs * outSize, (ulong)k, cache.Output, cache.Dropped.All);
                        input = cache.Dropped.All;
                    }
                }
            }
        }
        finally
        {
            for (int slot = 0; slot < slots; slot++)
            {
                xprojs[slot]?.Dispose();
                hprojs[slot]?.Dispose();
                cPings[slot]?.Dispose();
                hRawTmps[slot]?.Dispose();
            }
        }

        var top = result.Layers[^1].Output;
        int width = dirs * outSize;
        using var topOwned = plan is { Identity: false } ? Gather(ops, width, steps, plan.Inverse, top) : null;
        if (topOwned is not null)
            top = topOwned.All;
        if (o.BatchFirst)
        {
            result.Output = Tensor<T>.Uninitialized(Device, batch, steps, width);
            ops.SwapAxes01(steps, batch, width, top, result.Output.Data);
        }
        else
        {
            result.Output = Tensor<T>.Uninitialized(Device, steps, batch, width);
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
        // In the wavefront over layers each layer has its own, on its own lane (slot k, lane k).
        bool wave = UsesWavefront(steps);
        int block = wave ? BlockSteps(steps) : steps;
        int slots = wave ? layers : dirs;
        var laneOps = wave ? LayerOps(layers) : DirectionOps(dirs);
        var scratch = new List<DeviceBuffer<T>>();
        DeviceBuffer<T> Own(DeviceBuffer<T> b)
        {
            scratch.Add(b);
            return b;
        }

        var dgatesOf = new DeviceBuffer<T>[slots];
        var dgatesHOf = new DeviceBuffer<T>[slots];
        var dhRecAOf = new DeviceBuffer<T>[slots];
        var dhRecBOf = new DeviceBuffer<T>?[slots];
        var dcOf = new DeviceBuffer<T>[slots];
        var dhSumOf = new DeviceBuffer<T>?[slots];
        var dhRawOf = new DeviceBuffer<T>?[slots];
        for (int slot = 0; slot < slots; slot++)
        {
            var lane = laneOps[slot];
            dgatesOf[slot] = Own(lane.Allocate((long)steps * gateStep));
            dgatesHOf[slot] = cell.SeparateHiddenGradient ? Own(lane.Allocate((long)steps * gateStep)) : dgatesOf[slot];
            dhRecAOf[slot] = Own(lane.Allocate(outStep));
            dhRecBOf[slot] = cell.SeparateHiddenGradient ? Own(lane.Allocate(outStep)) : null;
            dcOf[slot] = Own(lane.Allocate(stepSize));
            dhSumOf[slot] = proj > 0 ? Own(lane.Allocate(outPerDir)) : null;
            dhRawOf[slot] = proj > 0 ? Own(lane.Allocate(stepSize)) : null;
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

            // Direction d of layer k, given d loss / d output [T, B, D·H_out]. One direction (D = 1):
            // d input [T·B, I_k] = dgates · W_ih is formed per block of steps in the wavefront
            // (layers above the first; one block of T steps outside it) as soon as the block is
            // complete, then taken back through the dropout below. Yields once per step.
            IEnumerable<bool> BackwardDirection(int k, int d, BufferSlice<T> dy, DeviceBuffer<T> dInput)
            {
                int slot = wave ? k : d;
                var ops = laneOps[slot];
                var dgates = dgatesOf[slot];
                var dgatesH = dgatesHOf[slot];
                var dhRecA = dhRecAOf[slot];
                var dhRecB = dhRecBOf[slot];
                var dc = dcOf[slot];
                var dhSum = dhSumOf[slot];
                var dhRaw = dhRawOf[slot];
                var cache = forward.Layers[k];
                int inputK = o.LayerInput(k);
                int dInputBlock = wave && k > 0 ? block : steps;
                bool dropBelow = k > 0 && forward.Layers[k - 1].Dropped is not null;
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
                void DInput(int t0, int count)
                {
                    // d input [n·B, I_k] = dgates [n·B, G] · W_ih [G, I_k] for steps t0 … t0+n-1: the layer below's dy (or dx).
                    ops.GemmRows(
                        GemmShape.Dense(count * batch, inputK, g, false, false), steps * batch, Num<T>.One,
                        dgates.Slice(t0 * gateStep, count * gateStep), p.WeightIh.Value.Data, Num<T>.Zero,
                        dInput.Slice((long)t0 * batch * inputK, (long)count * batch * inputK));
                    if (dropBelow)
                    {
                        // Back through the dropout on layer k-1's output: the same mask on the gradient.
                        ApplyDropout(ops, plan, batch, t0, count, inputK, (ulong)(k - 1), dInput.All, dInput.All);
                    }
                }

                void RunStep(int s)
                {
                    int t = d == 0 ? s : steps - 1 - s;
                    int n = Active(plan, batch, steps, t);
                    if (n == 0)
                        return;
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
                }

                bool whole = SequenceOps(ops, plan, batch, steps, wave) is { } sequence
                    && sequence.TryLstmSequenceBackward(new LstmSequenceBackward<T>(
                        steps, batch, hidden, d == 1, dyDir.Slice(0, outPerDir), whh, dcache.Acts!.All, dcache.Cells!.All, dcache.C0,
                        dhRecA.All, dc.All, dgates.Slice(0, steps * gateStep)));
                if (whole)
                {
                    // The whole loop as one operation (the same values, bit for bit); every row began at the first step.
                    ops.Copy(dhRecA.All, dh0);
                    if (dc0 is { } dc0v)
                        ops.Copy(dc.All, dc0v);
                    if (dirs == 1)
                        DInput(0, steps);
                    yield return true;
                }

                for (int s = whole ? -1 : steps - 1; s >= 0; s--)
                {
                    RunStep(s);
                    if (dirs == 1 && s % dInputBlock == 0)
                        DInput(s, Math.Min(dInputBlock, steps - s));
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
                // Forward every row begins at step 0; in reverse, a row begins at its own last step.
                var dWhh = p.WeightHh.Grad.Data;
                for (int t = 0; t < (d == 0 ? 1 : steps); t++)
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
                    if (ReferenceEquals(dgates, dgatesH))
                    {
                        // One gradient for both biases (an LSTM's): sum the rows once, add it to each.
                        using var dBias = ops.Allocate(g);
                        ops.SumRows(steps * batch, g, dgates.All, Num<T>.Zero, dBias.All);
                        ops.Axpy(Num<T>.One, dBias.All, bih.Grad.Data);
                        ops.Axpy(Num<T>.One, dBias.All, bhh.Grad.Data);
                    }
                    else
                    {
                        ops.SumRows(steps * batch, g, dgates.All, Num<T>.One, bih.Grad.Data);
                        ops.SumRows(steps * batch, g, dgatesH.All, Num<T>.One, bhh.Grad.Data);
                    }
                }

                if (p.WeightHr is { } whr)
                {
                    // dW_hr [P, H] += dh^T [P, T·B] · (o ⊙ tanh c) [T·B, H].
                    ops.Gemm(GemmShape.Dense(proj, hidden, steps * batch, true, false), Num<T>.One, dhSum!.All, dcache.HRaw!.All, Num<T>.One, whr.Grad.Data);
                }
            }

            if (wave)
            {
                // Every layer's d input up front (layer k's is layer k-1's dy); layer 0's is dx.
                var dInputs = new DeviceBuffer<T>[layers];
                for (int k = 0; k < layers; k++)
                    dInputs[k] = k == 0 ? ops.Allocate((long)steps * batch * o.InputSize) : Own(ops.Allocate((long)steps * batch * o.LayerInput(k)));
                var top = dy;
                try
                {
                    RunWavefront(
                        layers, BlockLengths(steps, block, reverse: true), j => layers - 1 - j,
                        j => BackwardDirection(layers - 1 - j, 0, j == 0 ? top : dInputs[layers - j].All, dInputs[layers - 1 - j]));
                }
                catch
                {
                    dInputs[0].Dispose();
                    throw;
                }

                dyOwned?.Dispose();
                dyOwned = dInputs[0];
                dy = dInputs[0].All;
            }

            for (int k = layers - 1; k >= 0 && !wave; k--)
            {
                int inputK = o.LayerInput(k);
                if (dirs > 1)
                {
                    // [T·B, 2, H_out] → [2, T·B, H_out]: each direction's dy contiguous.
                    ops.SwapAxes01(steps * batch, dirs, outSize, dy, dySplit!.All);
                }

                var dInput = ops.Allocate((long)steps * batch * inputK);
                var layerDy = dy;
                int layer = k;
                RunDirections(dirs, d => BackwardDirection(layer, d, layerDy, dInput));
                if (dirs > 1)
                {
                    for (int d = 0; d < dirs; d++)
                    {
                        // d input [T·B, I_k] (+)= dgates [T·B, G] · W_ih [G, I_k]: the layer below's dy (or dx), directions in order.
                        ops.Gemm(GemmShape.Dense(steps * batch, inputK, g, false, false), Num<T>.One, dgatesOf[d].All, _params[k * dirs + d].WeightIh.Value.Data, d == 0 ? Num<T>.Zero : Num<T>.One, dInput.All);
                    }

                    if (k > 0 && forward.Layers[k - 1].Dropped is not null)
                    {
                        // Back through the dropout on layer k-1's output: the same mask on the gradient.
                        ApplyDropout(ops, plan, batch, 0, steps, dirs * outSize, (ulong)(k - 1), dInput.All, dInput.All);
                    }
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
    /// y = dropout(x) over steps t0 … t0+count-1 of a layer output [T, B, W] time-major with rows
    /// sorted by the plan: the mask is keyed by the element's index in the caller's row order of
    /// the whole output, so rows are restored first and any split into blocks draws the same mask.
    /// </summary>
    private void ApplyDropout(IDeviceOps<T> ops, LengthPlan? plan, int batch, int t0, int count, int width, ulong layer, BufferSlice<T> x, BufferSlice<T> y)
    {
        var p = Num<T>.From(Config.Dropout);
        long perStep = (long)batch * width;
        long baseIndex = t0 * perStep;
        var xs = x.Slice(baseIndex, count * perStep);
        var ys = y.Slice(baseIndex, count * perStep);
        if (plan is not { Identity: false })
        {
            ops.Dropout(DropoutSeed, layer, baseIndex, p, xs, ys);
            return;
        }

        using var callerOrder = Gather(ops, width, count, plan.Inverse, xs);
        ops.Dropout(DropoutSeed, layer, baseIndex, p, callerOrder.All, callerOrder.All);
        using var sorted = Gather(ops, width, count, plan.Perm, callerOrder.All);
        ops.Copy(sorted.All, ys);
    }

    /// <summary>n_t: rows active at step t (rows are sorted by length, so they are the first n_t).</summary>
    private static int Active(LengthPlan? plan, int batch, int steps, int t) =>
        t < 0 || t >= steps ? 0 : plan is null ? batch : plan.Active[t];

    /// <summary>
    /// The active rows of step t in runs by where their previous state comes from: the previous
    /// step's output, or h0/c0 for rows that begin at t (every row at t = 0 forward; rows whose
    /// own last step is t in the reverse direction).
    /// </summary>
    /// <remarks>A struct, enumerated by foreach without an allocation: it is asked for at every step.</remarks>
    private static StepSegments Segments(LengthPlan? plan, int batch, int steps, int direction, int t)
    {
        int n = Active(plan, batch, steps, t);
        int carried = direction == 0 ? (t == 0 ? 0 : n) : Active(plan, batch, steps, t + 1);
        return new StepSegments(carried, n);
    }

    /// <summary>Rows [0, carried) of a step continue from the previous step; rows [carried, active) begin at it.</summary>
    private readonly struct StepSegments(int carried, int active)
    {
        public Enumerator GetEnumerator() => new(carried, active);

        /// <summary>(0, carried, false) if carried &gt; 0, then (carried, active, true) if active &gt; carried.</summary>
        public struct Enumerator(int carried, int active)
        {
            private int _next;

            public (int Start, int End, bool FromInitial) Current { get; private set; }

            public bool MoveNext()
            {
                if (_next == 0)
                {
                    _next = 1;
                    if (carried > 0)
                    {
                        Current = (0, carried, false);
                        return true;
                    }
                }

                if (_next == 1)
                {
                    _next = 2;
                    if (active > carried)
                    {
                        Current = (carried, active, true);
                        return true;
                    }
                }

                return false;
            }
        }
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
