using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A stacked recurrent layer (the recurrent part of a <see cref="ModelConfig"/>) split over
/// devices, one layer per device, run as a pipeline over chunks of time steps: layer k runs chunk
/// c while layer k+1 runs chunk c−1 (and backward, layer k runs chunk c while layer k+1 runs
/// chunk c+1), each device driven by a thread of its own.
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: B batch, T steps, T_c steps of a chunk, I input size, H hidden size,
/// H_out = P or H, D directions, W = D·H_out, L layers (= stages = devices).
/// </para>
/// <para>
/// Layer k is a one-layer <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or <see cref="RNN{T}"/>
/// (time-major, same bias, proj_size and directions) on <c>placement[k]</c>, holding the values
/// the one-device layer of the same seed holds (it is built on the host and its parameters are
/// copied layer by layer), under the one-device names (<c>weight_ih_l{k}</c>, ...), so state
/// dicts and checkpoints are interchangeable with <see cref="SequenceNetwork{T}"/>'s.
/// </para>
/// <para>
/// Forward: chunk c (steps [c·T_c, (c+1)·T_c)) of layer k starts from the (h, c) the layer's
/// previous chunk ended with; its output [T_c, B, W] goes through a host buffer to layer k+1's
/// device (<see cref="HostStaging{T}"/>: page-locked on ILGPU accelerators), where, in training,
/// the dropout between layers is applied with the one-device engine's key: (dropout seed,
/// stream k, index of the element in the layer's whole seq-first output, i.e. the chunk's offset
/// c·T_c·B·W plus its own index), so the masks are the same bits. Backward walks the chunks in
/// reverse, carrying (dh, dc) from chunk c+1 into chunk c (the layer's dh_0, dc_0 of chunk c+1
/// are d h_n, d c_n of chunk c); d input of layer k+1 goes through the same dropout mask and a
/// host buffer to layer k. The parameter gradients of a layer are the sum over its chunks, so
/// they differ from the one-device sums in rounding only (their summation order changes).
/// </para>
/// <para>
/// A bidirectional layer's reverse direction needs the whole sequence of the layer below: with
/// bidirectional layers the chunk is the whole sequence, so the stages run one after the other
/// (the placement still splits memory over devices, but nothing overlaps).
/// </para>
/// <para>
/// Variable lengths (PyTorch's packed sequences) run chunk by chunk too: in chunk c a row of
/// length n has min(max(n − c·T_c, 0), T_c) steps, so a row that has ended carries its state
/// through the later chunks unchanged (a length of 0 gives h_n = h0) and its outputs stay 0.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LayerPipeline<T> : IDisposable where T : unmanaged
{
    private readonly RecurrentLayer<T>[] _layers;
    private readonly (string Name, Parameter<T> Parameter)[][] _named;
    private readonly ChunkLink<T>[] _forwardLinks;
    private readonly ChunkLink<T>[] _backwardLinks;

    /// <summary>
    /// Creates the layers on their devices with the initial values of the one-device layer built
    /// from the same configuration and <paramref name="seed"/>.
    /// </summary>
    /// <param name="config">The model; its cell, input size (the embedding size of a language model), hidden size, layers, bias, directions, proj_size and dropout are used.</param>
    /// <param name="placement">One device per layer; the same instance may not appear twice (open a device once per layer).</param>
    /// <param name="seed">The seed of the initialization (the one-device recurrent layer's).</param>
    /// <exception cref="LstmException">The configuration is invalid, or the placement does not name one device per layer.</exception>
    public LayerPipeline(ModelConfig config, IReadOnlyList<ComputeDevice> placement, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        config.Validate();
        CheckPlacement(config, placement);
        Config = config;
        Placement = [.. placement];
        int layers = config.NumLayers;
        _layers = new RecurrentLayer<T>[layers];
        _named = new (string, Parameter<T>)[layers][];
        try
        {
            // The one-device layer, on the host, gives every value: one Random(seed) drawn layer by layer.
            using var host = ComputeDevice.Open(ComputeDevice.CpuName);
            using var reference = CreateLayer(host, config, 0, config.NumLayers, seed);
            var all = reference.Parameters().ToList();
            int perLayer = all.Count / layers;
            for (int k = 0; k < layers; k++)
            {
                _layers[k] = CreateLayer(Placement[k], config, k, 1, seed);
                var own = _layers[k].Parameters().ToList();
                if (own.Count != perLayer)
                    throw new InvalidOperationException($"layer {k} has {own.Count} parameters where the one-device layer has {perLayer} per layer");
                _named[k] = new (string, Parameter<T>)[perLayer];
                for (int j = 0; j < perLayer; j++)
                {
                    var source = all[k * perLayer + j];
                    if (!source.Shape.SequenceEqual(own[j].Shape))
                        throw new InvalidOperationException($"{source.Name}: shape {Tensor<T>.FormatShape(source.Shape)} differs from layer {k}'s {own[j].Name} {Tensor<T>.FormatShape(own[j].Shape)}");
                    own[j].Value.CopyFrom(source.Value.ToArray());
                    _named[k][j] = (source.Name, own[j]);
                }
            }
        }
        catch
        {
            foreach (var l in _layers)
                l?.Dispose();
            throw;
        }

        _forwardLinks = [.. Enumerable.Range(0, layers - 1).Select(k => new ChunkLink<T>(Placement[k], Placement[k + 1]))];
        _backwardLinks = [.. Enumerable.Range(0, layers - 1).Select(k => new ChunkLink<T>(Placement[k + 1], Placement[k]))];
    }

    /// <summary>The model whose recurrent stack this is.</summary>
    public ModelConfig Config { get; }

    /// <summary>The device of each layer.</summary>
    public IReadOnlyList<ComputeDevice> Placement { get; }

    /// <summary>The layers: layer k is a one-layer recurrent layer on <c>Placement[k]</c>.</summary>
    public IReadOnlyList<RecurrentLayer<T>> Layers => _layers;

    /// <summary>Steps per chunk; 0 (the default) chooses <see cref="DefaultChunkSteps"/>. Ignored with bidirectional layers (the chunk is the whole sequence).</summary>
    public int ChunkSteps { get; set; }

    /// <summary>The seed of the dropout masks between layers (a trainer sets a new one before each step).</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>Called on a stage's thread as it starts each chunk: (layer, chunk, true for forward); tests observe the schedule with it.</summary>
    internal Action<int, int, bool>? ChunkStarting { get; set; }

    /// <summary>Bytes that went through host buffers in the last forward (all links) and in the last backward.</summary>
    public (long Forward, long Backward) LastTransferBytes { get; private set; }

    /// <summary>The parameters under their one-device state-dict names (<c>weight_ih_l0</c>, ..., <c>weight_ih_l1</c>, ...), in PyTorch's order.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() => _named.SelectMany(n => n);

    /// <summary>The chunk length used for <paramref name="steps"/> steps: ⌈T / (4·L)⌉ (enough chunks that the L−1 chunks of filling and draining the pipeline are a small part of the work), the whole sequence for bidirectional layers.</summary>
    /// <param name="steps">T.</param>
    /// <param name="layers">L.</param>
    /// <param name="bidirectional">True: the whole sequence.</param>
    public static int DefaultChunkSteps(int steps, int layers, bool bidirectional) =>
        bidirectional ? steps : Math.Max(1, (steps + 4 * layers - 1) / (4 * layers));

    /// <summary>The chunk length a pass over <paramref name="steps"/> steps uses.</summary>
    /// <param name="steps">T.</param>
    public int ChunkFor(int steps) =>
        Config.Bidirectional ? steps : ChunkSteps > 0 ? Math.Min(ChunkSteps, steps) : DefaultChunkSteps(steps, Config.NumLayers, false);

    /// <summary>Checks that a placement names one distinct device per layer.</summary>
    /// <param name="config">The model.</param>
    /// <param name="placement">The devices.</param>
    /// <exception cref="LstmException">The counts differ or a device instance appears twice.</exception>
    public static void CheckPlacement(ModelConfig config, IReadOnlyList<ComputeDevice> placement)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        if (placement.Count != config.NumLayers)
            throw new LstmException($"placement names {placement.Count} device{(placement.Count == 1 ? "" : "s")} but the model has {config.NumLayers} layer{(config.NumLayers == 1 ? "" : "s")}: give one device per layer");
        for (int i = 0; i < placement.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(placement[i]);
            for (int j = 0; j < i; j++)
            {
                if (ReferenceEquals(placement[i], placement[j]))
                    throw new LstmException($"placement: layers {j} and {i} were given the same {placement[i].Name} device object; open a device once per layer");
            }
        }
    }

    /// <summary>Runs the stack over x.</summary>
    /// <param name="x">[B, T, I] (batch-first) on <c>Placement[0]</c>.</param>
    /// <param name="training">True keeps what <see cref="Backward"/> needs and applies dropout between layers.</param>
    /// <param name="lengths">Null: every sequence has T steps. Else one length per sequence, each in [0, T], with the one-device layer's packed-sequence semantics (output past a length is 0, h_n is each sequence's state at its own last step).</param>
    /// <returns>The output [B, T, W] and the top layer's h_n [D, B, H_out], on the last device; dispose it.</returns>
    /// <exception cref="LstmException">x is on another device or has the wrong shape, or a length is out of range.</exception>
    public PipelineResult<T> Forward(Tensor<T> x, bool training = false, IReadOnlyList<int>? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        var first = Placement[0];
        if (!ReferenceEquals(x.Device, first))
            throw new LstmException($"x is on device {x.Device.Name} but the pipeline's first layer is on {first.Name}");
        if (x.Shape.Count != 3 || x.Shape[2] != Config.InputSize || x.Shape[0] < 1 || x.Shape[1] < 1)
            throw new LstmException($"x has shape {x.ShapeString}; expected [batch, seq_len, input_size] with input_size {Config.InputSize}");
        int batch = x.Shape[0], steps = x.Shape[1];
        if (lengths is not null)
        {
            if (lengths.Count != batch)
                throw new LstmException($"lengths has {lengths.Count} entries; expected one per sequence (batch = {batch})");
            for (int b = 0; b < batch; b++)
            {
                if (lengths[b] < 0 || lengths[b] > steps)
                    throw new LstmException($"lengths[{b}] = {lengths[b]} is outside [0, seq_len = {steps}]");
            }
        }

        int chunk = ChunkFor(steps);
        int chunks = (steps + chunk - 1) / chunk;
        int layers = _layers.Length;
        int width = Config.HeadInputSize;
        var last = Placement[^1];
        var result = new PipelineResult<T>(steps, batch, chunk, layers, training);
        ulong seed = DropoutSeed;
        var p = Num<T>.From(Config.Dropout);
        bool dropout = training && Config.Dropout > 0;
        try
        {
            using var xTime = first.Ops<T>().Allocate((long)steps * batch * Config.InputSize);
            first.Ops<T>().SwapAxes01(batch, steps, Config.InputSize, x.Data, xTime.All);
            using var topTime = last.Ops<T>().Allocate((long)steps * batch * width);
            foreach (var link in _forwardLinks)
                link.Reset();

            RunStages(layers, (k, cancel) =>
            {
                var device = Placement[k];
                var ops = device.Ops<T>();
                int inputK = k == 0 ? Config.InputSize : width;
                RecurrentResult<T>? previous = null;
                Tensor<T>? previousInput = null;
                for (int c = 0; c < chunks; c++)
                {
                    ChunkStarting?.Invoke(k, c, true);
                    int t0 = c * chunk;
                    int tc = Math.Min(chunk, steps - t0);
                    long inLength = (long)tc * batch * inputK;
                    var input = Tensor<T>.Zeros(device, tc, batch, inputK);
                    if (k == 0)
                    {
                        ops.Copy(xTime.Slice((long)t0 * batch * inputK, inLength), input.Data);
                    }
                    else
                    {
                        var link = _forwardLinks[k - 1];
                        var staged = link.Receive(c, cancel);
                        ops.Upload(staged.Span(inLength), input.Data);
                        link.Return(staged);
                        if (dropout)
                            ops.Dropout(seed, (ulong)(k - 1), (long)t0 * batch * inputK, p, input.Data, input.Data);
                    }

                    RecurrentResult<T> chunkResult;
                    try
                    {
                        int[]? chunkLengths = lengths is null ? null : [.. lengths.Select(n => Math.Clamp(n - t0, 0, tc))];
                        chunkResult = RunForward(_layers[k], input, previous?.HN, previous?.CellState, training, chunkLengths);
                    }
                    catch
                    {
                        input.Dispose();
                        throw;
                    }

                    if (training)
                    {
                        result.Inputs[k][c] = input;
                        result.Chunks[k][c] = chunkResult;
                    }

                    long outLength = (long)tc * batch * width;
                    if (k < layers - 1)
                    {
                        var link = _forwardLinks[k];
                        var staged = link.Rent(outLength);
                        ops.Download(chunkResult.Output.Data, staged.Span(outLength));
                        link.Send(c, staged, outLength);
                    }
                    else
                    {
                        ops.Copy(chunkResult.Output.Data, topTime.Slice((long)t0 * batch * width, outLength));
                    }

                    if (c == chunks - 1 && k == layers - 1)
                    {
                        result.HN = Tensor<T>.Zeros(device, Config.Directions, batch, Config.HiddenOutputSize);
                        ops.Copy(chunkResult.HN.Data, result.HN.Data);
                    }

                    if (!training)
                    {
                        previous?.Dispose();
                        previousInput?.Dispose();
                        previousInput = input;
                    }

                    previous = chunkResult;
                }

                if (!training)
                {
                    previous?.Dispose();
                    previousInput?.Dispose();
                }

                ops.Synchronize();
            });

            result.Output = Tensor<T>.Zeros(last, batch, steps, width);
            last.Ops<T>().SwapAxes01(steps, batch, width, topTime.All, result.Output.Data);
            LastTransferBytes = (_forwardLinks.Sum(l => l.BytesSent), 0);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Back-propagates through a training <see cref="Forward"/>: adds every layer's parameter
    /// gradients and returns d loss / d x. Releases the forward's stored activations as it goes.
    /// </summary>
    /// <param name="forward">The result of <c>Forward(x, training: true)</c>.</param>
    /// <param name="dOutput">d loss / d output [B, T, W] on the last device, or null for zeros.</param>
    /// <param name="dHN">d loss / d (top layer's h_n) [D, B, H_out] on the last device, or null for zeros.</param>
    /// <returns>dx [B, T, I] on <c>Placement[0]</c>; dispose it.</returns>
    /// <exception cref="LstmException">A gradient has the wrong shape or device.</exception>
    public Tensor<T> Backward(PipelineResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN)
    {
        ArgumentNullException.ThrowIfNull(forward);
        if (!forward.Training || forward.Chunks.Length != _layers.Length || forward.Chunks[0].Any(r => r is null))
            throw new InvalidOperationException("Backward needs the result of a Forward with training: true of this pipeline, not yet back-propagated");
        int batch = forward.Batch, steps = forward.Steps, chunk = forward.ChunkSteps;
        int chunks = (steps + chunk - 1) / chunk;
        int layers = _layers.Length;
        int width = Config.HeadInputSize;
        int hOut = Config.HiddenOutputSize;
        var first = Placement[0];
        var last = Placement[^1];
        CheckGradient("dOutput", dOutput, last, [batch, steps, width]);
        CheckGradient("dh_n", dHN, last, [Config.Directions, batch, hOut]);
        ulong seed = DropoutSeed;
        var p = Num<T>.From(Config.Dropout);
        bool dropout = Config.Dropout > 0;
        var dx = Tensor<T>.Zeros(first, batch, steps, Config.InputSize);
        try
        {
            using var dTopTime = dOutput is null ? null : last.Ops<T>().Allocate((long)steps * batch * width);
            if (dOutput is not null)
                last.Ops<T>().SwapAxes01(batch, steps, width, dOutput.Data, dTopTime!.All);
            using var dxTime = first.Ops<T>().Allocate((long)steps * batch * Config.InputSize);
            foreach (var link in _backwardLinks)
                link.Reset();

            RunStages(layers, (k, cancel) =>
            {
                var device = Placement[k];
                var ops = device.Ops<T>();
                int inputK = k == 0 ? Config.InputSize : width;
                RecurrentGradients<T>? carried = null;
                try
                {
                    for (int c = chunks - 1; c >= 0; c--)
                    {
                        ChunkStarting?.Invoke(k, c, false);
                        int t0 = c * chunk;
                        int tc = Math.Min(chunk, steps - t0);
                        long outLength = (long)tc * batch * width;
                        Tensor<T>? dy = null;
                        if (k < layers - 1)
                        {
                            var link = _backwardLinks[k];
                            var staged = link.Receive(c, cancel);
                            dy = Tensor<T>.Zeros(device, tc, batch, width);
                            ops.Upload(staged.Span(outLength), dy.Data);
                            link.Return(staged);
                        }
                        else if (dTopTime is not null)
                        {
                            dy = Tensor<T>.Zeros(device, tc, batch, width);
                            ops.Copy(dTopTime.Slice((long)t0 * batch * width, outLength), dy.Data);
                        }

                        RecurrentGradients<T> grads;
                        using (dy)
                        {
                            var dhn = carried?.DH0 ?? (k == layers - 1 && c == chunks - 1 ? dHN : null);
                            grads = RunBackward(_layers[k], forward.Chunks[k][c]!, dy, dhn, carried?.DC0State);
                        }

                        carried?.Dispose();
                        carried = grads;

                        long inLength = (long)tc * batch * inputK;
                        if (k > 0)
                        {
                            if (dropout)
                                ops.Dropout(seed, (ulong)(k - 1), (long)t0 * batch * inputK, p, grads.DX.Data, grads.DX.Data);
                            var link = _backwardLinks[k - 1];
                            var staged = link.Rent(inLength);
                            ops.Download(grads.DX.Data, staged.Span(inLength));
                            link.Send(c, staged, inLength);
                        }
                        else
                        {
                            ops.Copy(grads.DX.Data, dxTime.Slice((long)t0 * batch * inputK, inLength));
                        }

                        // Chunk c+1 read its h0 from chunk c: it goes once chunk c is done, and chunk c's input with it.
                        ops.Synchronize();
                        forward.Release(k, c);
                    }
                }
                finally
                {
                    carried?.Dispose();
                }

                ops.Synchronize();
            });

            first.Ops<T>().SwapAxes01(steps, batch, Config.InputSize, dxTime.All, dx.Data);
            LastTransferBytes = (LastTransferBytes.Forward, _backwardLinks.Sum(l => l.BytesSent));
            return dx;
        }
        catch
        {
            dx.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var l in _layers)
            l.Dispose();
        foreach (var l in _forwardLinks)
            l.Dispose();
        foreach (var l in _backwardLinks)
            l.Dispose();
    }

    /// <summary>Layer <paramref name="k"/> of the configuration as a recurrent layer of <paramref name="count"/> layers (time-major; dropout between the pipeline's layers is applied by the pipeline).</summary>
    private static RecurrentLayer<T> CreateLayer(ComputeDevice device, ModelConfig c, int k, int count, int seed)
    {
        int input = k == 0 ? c.InputSize : c.HeadInputSize;
        double dropout = count > 1 ? c.Dropout : 0;
        return RecurrentLayers.Create<T>(device, c.Cell, input, c.HiddenSize, count, c.Bias, batchFirst: false, dropout, c.Bidirectional, c.ProjSize, seed);
    }

    private static RecurrentResult<T> RunForward(RecurrentLayer<T> layer, Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0, bool training, IReadOnlyList<int>? lengths) =>
        layer.ForwardWithState(x, h0, c0, training, lengths);

    private static RecurrentGradients<T> RunBackward(RecurrentLayer<T> layer, RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN) =>
        layer.BackwardWithState(forward, dOutput, dHN, dCN);

    private static void CheckGradient(string name, Tensor<T>? t, ComputeDevice device, int[] shape)
    {
        if (t is null)
            return;
        if (!ReferenceEquals(t.Device, device))
            throw new LstmException($"{name} is on device {t.Device.Name} but the pipeline's last layer is on {device.Name}");
        if (!t.HasShape(shape))
            throw new LstmException($"{name} has shape {t.ShapeString}; expected {Tensor<T>.FormatShape(shape)}");
    }

    /// <summary>
    /// Runs stage k for each k side by side, each bound to its device (stage 0 on the caller's
    /// thread), and returns when all have finished; when one fails, the others are cancelled
    /// (those waiting for a chunk stop waiting) and the first failure is thrown.
    /// </summary>
    private void RunStages(int count, Action<int, CancellationToken> stage) =>
        StageRunner.RunOnce(count, "pipeline stage", stage, k => ReplicaTransfer.Bind(Placement[k]));
}
