using System.Globalization;
using System.Text;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>What one device of an <see cref="ExecutionPlan"/> runs and the memory it needs for a training step, in bytes.</summary>
/// <param name="Index">The device's place in the placement (layer index).</param>
/// <param name="Device">The device's name.</param>
/// <param name="Work">What runs there: <c>embedding</c>, <c>layer k (fwd, bwd)</c>, <c>fc head</c>.</param>
/// <param name="ParameterBytes">The parameters.</param>
/// <param name="GradientBytes">Their gradients (as many).</param>
/// <param name="OptimizerBytes">The optimizer's state: 2× the parameters for adam/adamw, 1× for sgd with momentum, 0 without.</param>
/// <param name="ActivationBytes">What the forward keeps for the backward (see <see cref="ExecutionPlan"/>'s formula).</param>
/// <param name="BufferBytes">Working buffers alive during a chunk, and the input/output buffers of the whole sequence on the first and last device.</param>
public sealed record DeviceLoad(int Index, string Device, IReadOnlyList<string> Work, long ParameterBytes, long GradientBytes, long OptimizerBytes, long ActivationBytes, long BufferBytes)
{
    /// <summary>The sum of the parts.</summary>
    public long TotalBytes => ParameterBytes + GradientBytes + OptimizerBytes + ActivationBytes + BufferBytes;
}

/// <summary>What crosses between two devices in a training step, through host buffers.</summary>
/// <param name="From">Index of the sending device in the forward direction (layer k).</param>
/// <param name="To">Index of the receiving device (layer k+1).</param>
/// <param name="ForwardBytesPerChunk">Layer k's output for one full chunk, [T_c, B, D·H_out].</param>
/// <param name="BackwardBytesPerChunk">Its gradient for one full chunk, going back from k+1 to k.</param>
/// <param name="Chunks">Chunks per step.</param>
/// <param name="ForwardBytes">All forward bytes of a step, [T, B, D·H_out].</param>
/// <param name="BackwardBytes">All backward bytes of a step.</param>
public sealed record TransferLoad(int From, int To, long ForwardBytesPerChunk, long BackwardBytesPerChunk, int Chunks, long ForwardBytes, long BackwardBytes);

/// <summary>
/// Which device runs what in a training step, the memory each needs, and the bytes that cross
/// between devices: the plan <c>lstm plan</c> and <c>lstm train --dry-run</c> print. A model on
/// one device has one row and no transfers; a placement (one device per layer,
/// <see cref="LayerPipeline{T}"/>) has a row per layer.
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: B batch, T steps, T_c steps per chunk, I_k input width of layer k (I, then
/// D·H_out), H hidden size, H_out = P or H, D directions, G = gates·H (4H LSTM, 3H GRU, H RNN),
/// A = stored activations per step over H (4 LSTM and GRU, 0 RNN), V vocabulary, E embedding
/// size, O outputs. Sizes are elements × the element size (4 float32, 8 float64).
/// </para>
/// <para>
/// Parameters of layer k: D·(G·I_k + G·H_out + 2G [bias] + P·H [proj]). Embedding V·E, head
/// O·D·H_out + O. Gradients: as many. Optimizer state: 2× (adam, adamw: exp_avg, exp_avg_sq), 1×
/// (sgd with momentum), 0 (plain sgd).
/// </para>
/// <para>
/// Activations kept for the backward by layer k: T·B·(I_k + D·(A·H + C·H + H_out + R·H) + X·D·H_out),
/// with C = 1 for an LSTM (its c_t), R = 1 with a projection (o ⊙ tanh c_t before it), X = 1
/// when the directions are concatenated (bidirectional) or dropout is applied (one-device: the
/// dropped copy); the layer's input is its share (the embedding output for layer 0). The head
/// keeps its input (h_n: B·D·H_out, for every step already counted) and y (B·O or B·T·O).
/// </para>
/// <para>
/// Buffers: per chunk and layer T_c·B·(D·G·(1 + [GRU]) + I_k + D·H_out) (input projections, gate
/// gradients (two for GRU), d input, output), plus the whole sequence time-major on the first
/// device (x and dx: 2·T·B·I) and on the last (output and its gradient: 2·T·B·D·H_out).
/// </para>
/// <para>
/// Transfers per step between layer k and k+1: forward T·B·D·H_out elements (T_c·B·D·H_out per
/// chunk), backward as many (the gradient). Besides, the model's input goes from the last device
/// (where the trainer puts it, beside the loss) to the first: <see cref="InputBytes"/>.
/// </para>
/// </remarks>
public sealed class ExecutionPlan
{
    private ExecutionPlan(ModelConfig model, int batch, int steps, int chunkSteps, int elementSize, string optimizer, IReadOnlyList<DeviceLoad> devices, IReadOnlyList<TransferLoad> transfers, long inputBytes, IReadOnlyList<int>? shards = null, bool shardsMeasured = false)
    {
        Shards = shards;
        ShardsMeasured = shardsMeasured;
        Model = model;
        Batch = batch;
        Steps = steps;
        ChunkSteps = chunkSteps;
        ElementSize = elementSize;
        Optimizer = optimizer;
        Devices = devices;
        Transfers = transfers;
        InputBytes = inputBytes;
    }

    /// <summary>The model.</summary>
    public ModelConfig Model { get; }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>T_c (T on one device or with bidirectional layers).</summary>
    public int ChunkSteps { get; }

    /// <summary>Chunks per step.</summary>
    public int Chunks => (Steps + ChunkSteps - 1) / ChunkSteps;

    /// <summary>Bytes per element.</summary>
    public int ElementSize { get; }

    /// <summary>The optimizer's name.</summary>
    public string Optimizer { get; }

    /// <summary>One row per device, in placement order.</summary>
    public IReadOnlyList<DeviceLoad> Devices { get; }

    /// <summary>One row per pair of neighbouring layers on different devices (none on one device).</summary>
    public IReadOnlyList<TransferLoad> Transfers { get; }

    /// <summary>Bytes of the model's input copied from the last device to the first per step (0 on one device).</summary>
    public long InputBytes { get; }

    /// <summary>Data parallel: the rows of each batch per replica (device); null for one model on one device or a placement.</summary>
    public IReadOnlyList<int>? Shards { get; }

    /// <summary>Data parallel: true when the shards will be measured from the devices' speeds when training starts (the plan shows an even split).</summary>
    public bool ShardsMeasured { get; }

    /// <summary>
    /// Data parallel: bytes of the parameters' gradients (as many as the parameters) that each
    /// replica after the first sends to replica 0 per step for the all-reduce, and as many of
    /// weights that replica 0 sends back after its optimizer step; 0 otherwise.
    /// </summary>
    public long ReplicaGradientBytes => Shards is null ? 0 : Devices[0].GradientBytes;

    /// <summary>
    /// The plan of a data-parallel training step (<see cref="DataParallel{T}"/>): a replica of the
    /// whole model on every device, each running its shard of the batch; replica 0 alone holds the
    /// optimizer's state (it steps, then its weights are copied to the others).
    /// </summary>
    /// <remarks>
    /// Each row is the one-device plan at the replica's shard (activations and buffers scale with
    /// its rows), without optimizer state past replica 0. Per step each replica i &gt; 0 sends its
    /// gradients to replica 0 and receives the new weights: 2 × the parameter bytes per replica
    /// (<see cref="ReplicaGradientBytes"/> each way).
    /// </remarks>
    /// <param name="model">The architecture.</param>
    /// <param name="devices">The device names, one replica each (at least two).</param>
    /// <param name="shards">Rows per replica, or null when they are measured at the start (the plan then splits the batch evenly).</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="elementSize">4 (float32) or 8 (float64).</param>
    /// <param name="optimizer">The optimizer (its state's size).</param>
    /// <param name="momentum">SGD's momentum (state only when ≠ 0).</param>
    /// <exception cref="LstmException">Fewer than two devices, or shards that do not fit the devices and batch.</exception>
    public static ExecutionPlan ForDataParallel(ModelConfig model, IReadOnlyList<string> devices, IReadOnlyList<int>? shards, int batch, int steps, int elementSize, OptimizerKind optimizer, double momentum = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(devices);
        if (devices.Count < 2)
            throw new LstmException($"data-parallel plan: {devices.Count} device given; data parallelism needs at least two");
        if (batch < devices.Count)
            throw new LstmException($"data-parallel plan: a batch of {batch} cannot give each of {devices.Count} devices a row");
        bool measured = shards is null;
        var rowsPer = shards?.ToArray() ?? Enumerable.Range(0, devices.Count).Select(i => batch / devices.Count + (i < batch % devices.Count ? 1 : 0)).ToArray();
        DataParallel<float>.CheckShards(rowsPer, devices.Count, batch);
        var rows = new List<DeviceLoad>();
        string optimizerName = "";
        for (int i = 0; i < devices.Count; i++)
        {
            var one = ForTraining(model, [devices[i]], rowsPer[i], steps, elementSize, optimizer, momentum);
            optimizerName = one.Optimizer;
            var r = one.Devices[0];
            rows.Add(r with { Index = i, Work = [$"replica {i}: {rowsPer[i]} of {batch} rows", .. r.Work], OptimizerBytes = i == 0 ? r.OptimizerBytes : 0 });
        }

        return new ExecutionPlan(model, batch, steps, steps, elementSize, optimizerName, rows, [], 0, rowsPer, measured);
    }

    /// <summary>
    /// The plan of a training step of <paramref name="model"/> with batch <paramref name="batch"/>
    /// of <paramref name="steps"/> steps on <paramref name="placement"/> (one device name, or one per layer).
    /// </summary>
    /// <param name="model">The architecture.</param>
    /// <param name="placement">One device name, or one per layer.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <param name="elementSize">4 (float32) or 8 (float64).</param>
    /// <param name="optimizer">The optimizer (its state's size).</param>
    /// <param name="momentum">SGD's momentum (state only when ≠ 0).</param>
    /// <param name="chunkSteps">T_c of a placement; 0 for <see cref="LayerPipeline{T}.DefaultChunkSteps"/>.</param>
    /// <exception cref="LstmException">The placement names neither one device nor one per layer, or a size is not positive.</exception>
    public static ExecutionPlan ForTraining(ModelConfig model, IReadOnlyList<string> placement, int batch, int steps, int elementSize, OptimizerKind optimizer, double momentum = 0, int chunkSteps = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(placement);
        int layers = model.NumLayers;
        if (placement.Count != 1 && placement.Count != layers)
            throw new LstmException($"placement names {placement.Count} devices but the model has {layers} layer{(layers == 1 ? "" : "s")}: give one device per layer");
        if (batch < 1 || steps < 1 || elementSize < 1)
            throw new LstmException($"plan: batch {batch}, steps {steps} and element size {elementSize} must be positive");
        bool pipelined = placement.Count > 1;
        int chunk = !pipelined || model.Bidirectional ? steps
            : chunkSteps > 0 ? Math.Min(chunkSteps, steps)
            : LayerPipeline<float>.DefaultChunkSteps(steps, layers, false);
        double optimizerFactor = optimizer is OptimizerKind.Adam or OptimizerKind.AdamW ? 2 : momentum != 0 ? 1 : 0;
        string optimizerName = optimizer switch { OptimizerKind.Adam => "adam", OptimizerKind.AdamW => "adamw", _ => momentum != 0 ? "sgd+momentum" : "sgd" };

        int d = model.Directions, h = model.HiddenSize, hOut = model.HiddenOutputSize, w = model.HeadInputSize;
        int gates = model.Cell switch { CellKind.Lstm => 4, CellKind.Gru => 3, _ => 1 };
        int acts = model.Cell is CellKind.Lstm or CellKind.Gru ? 4 : 0;
        int cells = model.Cell == CellKind.Lstm ? 1 : 0;
        int raw = model.ProjSize > 0 ? 1 : 0;
        int g = gates * h;
        long tb = (long)steps * batch;
        long es = elementSize;

        long LayerParams(int k)
        {
            long input = k == 0 ? model.InputSize : w;
            return d * (g * input + (long)g * hOut + (model.Bias ? 2L * g : 0) + (long)model.ProjSize * h);
        }

        long LayerActivations(int k)
        {
            long input = k == 0 ? model.InputSize : w;
            int extra = d > 1 || (model.Dropout > 0 && !pipelined && k < layers - 1) ? 1 : 0;
            return tb * (input + d * ((long)acts * h + cells * h + hOut + raw * h) + extra * (long)d * hOut);
        }

        long LayerBuffers(int k, int chunkLength)
        {
            long input = k == 0 ? model.InputSize : w;
            return (long)chunkLength * batch * (d * (long)g * (model.Cell == CellKind.Gru ? 2 : 1) + input + w);
        }

        long embedding = model.Kind == ModelKind.LanguageModel ? (long)model.VocabSize * model.EmbeddingDim : 0;
        long head = (long)model.OutputSize * w + model.OutputSize;
        long y = model.Kind == ModelKind.SequenceToOne ? (long)batch * model.OutputSize : tb * model.OutputSize;
        long headKept = (model.Kind == ModelKind.SequenceToOne ? (long)batch * w : 0) + y;

        var rows = new List<DeviceLoad>();
        int devices = placement.Count;
        for (int i = 0; i < devices; i++)
        {
            var work = new List<string>();
            long parameters = 0, activations = 0, buffers = 0;
            bool firstDevice = i == 0, lastDevice = i == devices - 1;
            if (firstDevice && embedding > 0)
            {
                work.Add("embedding");
                parameters += embedding;
            }

            var layersHere = devices == 1 ? Enumerable.Range(0, layers) : [i];
            foreach (int k in layersHere)
            {
                work.Add($"layer {k} ({(d == 2 ? "fwd+rev" : "fwd")})");
                parameters += LayerParams(k);
                activations += LayerActivations(k);
                buffers = Math.Max(buffers, LayerBuffers(k, chunk));
            }

            if (firstDevice)
                buffers += 2 * tb * model.InputSize;
            if (lastDevice)
            {
                work.Add("fc head");
                parameters += head;
                activations += headKept;
                buffers += 2 * tb * w;
            }

            rows.Add(new DeviceLoad(i, placement[i], work, parameters * es, parameters * es, (long)(parameters * optimizerFactor) * es, activations * es, buffers * es));
        }

        var transfers = new List<TransferLoad>();
        int chunks = (steps + chunk - 1) / chunk;
        if (pipelined)
        {
            for (int k = 0; k + 1 < layers; k++)
            {
                long perChunk = (long)chunk * batch * w * es;
                long total = tb * w * es;
                transfers.Add(new TransferLoad(k, k + 1, perChunk, perChunk, chunks, total, total));
            }
        }

        long inputBytes = pipelined ? tb * (model.Kind == ModelKind.LanguageModel ? 1 : model.InputSize) * es : 0;
        return new ExecutionPlan(model, batch, steps, chunk, elementSize, optimizerName, rows, transfers, inputBytes);
    }

    /// <summary>The plan as aligned text tables: a heading, one row per device (and a total), then the transfers.</summary>
    public string Format()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string cell = ModelConfig.CellName(Model.Cell).ToUpperInvariant();
        sb.Append(c, $"plan: {cell} {ModelConfig.KindName(Model.Kind)}, {Model.NumLayers} layer{(Model.NumLayers == 1 ? "" : "s")} × hidden {Model.HiddenSize}{(Model.Bidirectional ? ", bidirectional" : "")}{(Model.ProjSize > 0 ? $", proj_size {Model.ProjSize}" : "")}; ");
        sb.Append(c, $"batch {Batch} × {Steps} steps, {(ElementSize == 4 ? "float32" : ElementSize == 8 ? "float64" : $"{ElementSize}-byte")}, {Optimizer}\n");
        if (Shards is not null)
            sb.Append(c, $"data parallel over {Devices.Count} devices: a replica of the whole model on each, shards of {string.Join(",", Shards)} rows{(ShardsMeasured ? " (an even split shown; the shards are measured from the devices' speeds when training starts)" : "")}; gradients summed into replica 0 in replica order, which steps and sends its weights back\n");
        else if (Devices.Count == 1)
            sb.Append("one device runs every layer (no transfers)\n");
        else if (Model.Bidirectional)
            sb.Append(c, $"layer pipeline over {Devices.Count} devices: bidirectional layers need the whole sequence below them, so the chunk is all {Steps} steps and the layers run one after the other\n");
        else
            sb.Append(c, $"layer pipeline over {Devices.Count} devices: chunks of {ChunkSteps} step{(ChunkSteps == 1 ? "" : "s")} ({Chunks} per pass); layer k runs chunk c while layer k+1 runs chunk c-1\n");
        sb.Append('\n');

        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        var table = new List<string[]> { new[] { "device", "runs", "params B", "grads B", "optimizer B", "activations B", "buffers B", "total B" } };
        foreach (var r in Devices)
            table.Add([$"{r.Index} {r.Device}", string.Join(", ", r.Work), N(r.ParameterBytes), N(r.GradientBytes), N(r.OptimizerBytes), N(r.ActivationBytes), N(r.BufferBytes), N(r.TotalBytes)]);
        if (Devices.Count > 1)
        {
            table.Add(["all", "", N(Devices.Sum(r => r.ParameterBytes)), N(Devices.Sum(r => r.GradientBytes)), N(Devices.Sum(r => r.OptimizerBytes)),
                N(Devices.Sum(r => r.ActivationBytes)), N(Devices.Sum(r => r.BufferBytes)), N(Devices.Sum(r => r.TotalBytes))]);
        }

        AppendTable(sb, table, leftColumns: 2);
        if (Shards is not null)
        {
            sb.Append('\n');
            sb.Append("transfers per training step, through host buffers (device to device between CUDA devices with peer access):\n");
            var t = new List<string[]> { new[] { "link", "gradients B", "weights back B" } };
            for (int i = 1; i < Devices.Count; i++)
                t.Add([$"{i} {Devices[i].Device} -> 0 {Devices[0].Device}", N(ReplicaGradientBytes), N(ReplicaGradientBytes)]);
            t.Add(["all links", N(ReplicaGradientBytes * (Devices.Count - 1)), N(ReplicaGradientBytes * (Devices.Count - 1))]);
            AppendTable(sb, t, leftColumns: 1);
            sb.Append(c, $"plus each replica's shard of the batch from the host\n");
        }

        if (Transfers.Count > 0)
        {
            sb.Append('\n');
            sb.Append("transfers per training step, through host buffers:\n");
            var t = new List<string[]> { new[] { "link", "fwd B/chunk", "fwd B/step", "bwd B/chunk", "bwd B/step" } };
            foreach (var x in Transfers)
                t.Add([$"{x.From} {Devices[x.From].Device} -> {x.To} {Devices[x.To].Device}", N(x.ForwardBytesPerChunk), N(x.ForwardBytes), N(x.BackwardBytesPerChunk), N(x.BackwardBytes)]);
            t.Add(["all links", "", N(Transfers.Sum(x => x.ForwardBytes)), "", N(Transfers.Sum(x => x.BackwardBytes))]);
            AppendTable(sb, t, leftColumns: 1);
            sb.Append(c, $"plus the input, {N(InputBytes)} B per step from device {Devices.Count - 1} (beside the loss) to device 0\n");
        }

        return sb.ToString();
    }

    private static void AppendTable(StringBuilder sb, List<string[]> rows, int leftColumns)
    {
        int columns = rows[0].Length;
        var widths = Enumerable.Range(0, columns).Select(j => rows.Max(r => r[j].Length)).ToArray();
        foreach (var r in rows)
        {
            var cells = r.Select((v, j) => j < leftColumns ? v.PadRight(widths[j]) : v.PadLeft(widths[j]));
            sb.Append(string.Join("  ", cells).TrimEnd()).Append('\n');
        }
    }
}
