using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A <c>sequence-classifier</c> (<see cref="ModelConfig"/>): sequences of any length →
/// class logits. [<see cref="Embedding{T}"/> for tokens] → the batch-first recurrent layer run
/// with each sequence's length (packed-sequence semantics) → pooling (<see cref="PoolKind"/>:
/// the last state, or mean or max over the sequence's own steps) → a <see cref="Linear{T}"/> head.
/// A <c>sequence-labeller</c> is the same network without the pooling: the head on every step,
/// logits [B·T, C] (row b·T + t; rows past a sequence's length are the padding's).
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: B batch, T steps (the batch's longest), I input features, E embedding size,
/// H_out = P or H, D directions, F = D·H_out, C classes. State-dict names as for the other
/// kinds: <c>embedding.weight</c> (tokens), <c>lstm.*</c>/<c>gru.*</c>/<c>rnn.*</c>,
/// <c>fc.weight</c> [C, F], <c>fc.bias</c> [C]. In PyTorch:
/// </para>
/// <code>
/// packed = pack_padded_sequence(self.embedding(tokens) or x, lengths, batch_first=True, enforce_sorted=False)
/// out, h_n = self.rnn(packed)                     # LSTM: h_n = h_n[0]
/// out = pad_packed_sequence(out, batch_first=True)[0]   # zeros past each length
/// last: z = torch.cat(list(h_n[-D:]), dim=1)
/// mean: z = out.sum(1) / lengths[:, None]
/// max:  z = out.masked_fill(padding[..., None], -inf).max(1).values
/// return self.fc(z)
/// labeller: return self.fc(out).reshape(B * T, C)
/// </code>
/// <para>Initialization draws from consecutive seeds: the embedding, the recurrent layer, the head.</para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class SequenceClassifier<T> : IVariableLengthModel<T> where T : unmanaged
{
    private RecurrentResult<T>? _forward;
    private Tensor<T>? _pooled;
    private Tensor<T>? _tokens;
    private int[]? _lengths;
    private int[]? _argmax;

    /// <summary>Creates the classifier with PyTorch's initializations drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="config">A <c>sequence-classifier</c> configuration (validated here).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid or of another kind.</exception>
    public SequenceClassifier(ComputeDevice device, ModelConfig config, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (!config.ReadsSequences)
            throw new LstmException($"model config: kind {ModelConfig.KindName(config.Kind)} is not a sequence-classifier or sequence-labeller");
        Config = config;
        int next = seed;
        try
        {
            if (config.ReadsTokens)
                Embedding = new Embedding<T>(device, config.VocabSize, config.EmbeddingDim, next);
            next++;
            Recurrent = RecurrentLayers.Create<T>(device, config, batchFirst: true, next++);
            Fc = new Linear<T>(device, config.HeadInputSize, config.OutputSize, next);
        }
        catch
        {
            Embedding?.Dispose();
            Recurrent?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>The token table [V, E], or null for a classifier of values.</summary>
    public Embedding<T>? Embedding { get; }

    /// <summary>The recurrent layer (batch-first).</summary>
    public RecurrentLayer<T> Recurrent { get; }

    /// <summary>The head [F] → [C].</summary>
    public Linear<T> Fc { get; }

    /// <inheritdoc/>
    public ComputeDevice Device => Fc.Device;

    /// <inheritdoc/>
    public SequenceInput Input => Config.ReadsTokens ? SequenceInput.Tokens : SequenceInput.Values;

    /// <inheritdoc/>
    public SequenceOutput Output => Labels ? SequenceOutput.EveryStep : SequenceOutput.LastStep;

    /// <summary>Whether the head labels every step (a <c>sequence-labeller</c>) rather than the pooled sequence.</summary>
    public bool Labels => Config.Kind == ModelKind.SequenceLabeller;

    /// <inheritdoc/>
    public int OutputSize => Config.OutputSize;

    /// <inheritdoc/>
    public ulong DropoutSeed
    {
        get => Recurrent.DropoutSeed;
        set => Recurrent.DropoutSeed = value;
    }

    /// <summary>Loads a saved classifier: a model directory, its <c>config.json</c> or its safetensors file.</summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="path">A directory, a <c>config.json</c> or a <c>.safetensors</c> file.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static SequenceClassifier<T> Load(ComputeDevice device, string path)
    {
        ArgumentNullException.ThrowIfNull(device);
        var (configPath, weightsPath) = ModelFolder.Locate(path);
        return ModelFolder.LoadModel<T, SequenceClassifier<T>>(configPath, weightsPath, config => new SequenceClassifier<T>(device, config), model => model.NamedParameters());
    }

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> into a directory.</summary>
    /// <param name="directory">The directory (created if missing).</param>
    public void Save(string directory) => ModelFolder.Save(directory, Config, NamedParameters());

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters()
    {
        var embedding = Embedding is null ? [] : Embedding.Parameters().Select(p => ("embedding." + p.Name, p));
        return embedding
            .Concat(Recurrent.Parameters().Select(p => (Config.RecurrentPrefix + p.Name, p)))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));
    }

    /// <summary>Logits [B, C] (a labeller: [B·T, C]) of a batch whose sequences all have T steps.</summary>
    /// <param name="x">[B, T, I] values or [B, T] tokens.</param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        int steps = x.Shape.Count >= 2 ? x.Shape[1] : 0;
        int batch = x.Shape.Count >= 1 ? x.Shape[0] : 0;
        return Forward(x, Enumerable.Repeat(steps, batch).ToArray(), training);
    }

    /// <summary>Logits [B, C] (a labeller: [B·T, C], padding rows meaningless) of a padded batch.</summary>
    /// <param name="x">[B, T, I] values or [B, T] tokens (exact integers in [0, V)).</param>
    /// <param name="lengths">B lengths in [1, T].</param>
    /// <param name="training">True before a <see cref="Backward"/>; applies dropout.</param>
    /// <exception cref="LstmException">x has the wrong shape, a length is outside [1, T], or a token is not in the vocabulary.</exception>
    public Tensor<T> Forward(Tensor<T> x, IReadOnlyList<int> lengths, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(lengths);
        ReleaseForward();
        int rank = Config.ReadsTokens ? 2 : 3;
        if (x.Shape.Count != rank || x.Shape[0] < 1 || x.Shape[1] < 1 || (rank == 3 && x.Shape[2] != Config.InputSize))
            throw new LstmException($"sequence classifier: x has shape {x.ShapeString}, expected {(rank == 2 ? "[B, T] tokens" : $"[B, T, {Config.InputSize}]")} with B, T ≥ 1");
        int batch = x.Shape[0], steps = x.Shape[1];
        if (lengths.Count != batch)
            throw new LstmException($"sequence classifier: {lengths.Count} lengths for a batch of {batch}");
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 1 || lengths[b] > steps)
                throw new LstmException($"sequence classifier: sequence {b} has length {lengths[b]}, outside [1, {steps}] (an empty sequence cannot be classified)");
        }

        RecurrentResult<T>? result = null;
        Tensor<T>? pooled = null;
        try
        {
            using (var embedded = Embedding?.Forward(x))
                result = Recurrent.Forward(embedded ?? x, training: training, lengths: lengths);
            int[]? argmax = null;
            if (!Labels)
                pooled = Pool(result, lengths, out argmax);
            var y = pooled is null ? Fc.Forward(result.Output.Data, batch * steps) : Fc.Forward(pooled.Data, batch);
            if (training)
            {
                _forward = result;
                _pooled = pooled;
                _lengths = lengths.ToArray();
                _argmax = argmax;
                if (Embedding is not null)
                    _tokens = Tensor<T>.FromArray(Device, x.ToArray(), batch, steps);
                result = null;
                pooled = null;
            }

            return y;
        }
        finally
        {
            result?.Dispose();
            pooled?.Dispose();
        }
    }

    /// <summary>Back-propagates d loss / d logits [B, C] (a labeller: [B·T, C], zero on padding rows) through the last training forward pass.</summary>
    /// <param name="dy">[B, C] or [B·T, C].</param>
    /// <exception cref="LstmException">dy has the wrong shape.</exception>
    public void Backward(Tensor<T> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var forward = _forward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        try
        {
            int batch = forward.Batch, rows = Labels ? batch * forward.Steps : batch;
            if (!dy.HasShape(rows, OutputSize))
                throw new LstmException($"sequence {(Labels ? "labeller" : "classifier")}: dy has shape {dy.ShapeString}, expected [{rows}, {OutputSize}]");
            using var dHead = Fc.Backward(Labels ? forward.Output.Data : _pooled!.Data, dy, rows);
            var (dOutput, dHN) = Labels ? (StepsBackward(forward, dHead), null) : PoolBackward(forward, dHead);
            using (dOutput)
            using (dHN)
            using (var grads = Recurrent.Backward(forward, dOutput, dHN))
                Embedding?.Backward(_tokens!, grads.DX.Data);
        }
        finally
        {
            ReleaseForward();
        }
    }

    /// <inheritdoc/>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleaseForward();
        Embedding?.Dispose();
        Recurrent.Dispose();
        Fc.Dispose();
    }

    private void ReleaseForward()
    {
        _forward?.Dispose();
        _forward = null;
        _pooled?.Dispose();
        _pooled = null;
        _tokens?.Dispose();
        _tokens = null;
        _lengths = null;
        _argmax = null;
    }

    /// <summary>The head's input [B, F]: the top layer's last states side by side (last) or the pooled output.</summary>
    private Tensor<T> Pool(RecurrentResult<T> result, IReadOnlyList<int> lengths, out int[]? argmax)
    {
        int batch = result.Batch, steps = result.Steps, d = Config.Directions, hOut = Config.HiddenOutputSize, f = d * hOut;
        var pooled = new double[batch * f];
        argmax = null;
        if (Config.Pool == PoolKind.Last)
        {
            // h_n [L·D, B, H_out]: the top layer's D blocks, read as [B, D·H_out].
            var hn = result.HN.ToArray();
            int top = (Config.NumLayers - 1) * d;
            for (int dir = 0; dir < d; dir++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int k = 0; k < hOut; k++)
                        pooled[b * f + dir * hOut + k] = Num<T>.ToDouble(hn[((top + dir) * batch + b) * hOut + k]);
                }
            }
        }
        else
        {
            argmax = Config.Pool == PoolKind.Max ? new int[batch * f] : null;
            SequencePooling.Forward(Config.Pool, ToDouble(result.Output.ToArray()), lengths, steps, f, pooled, argmax);
        }

        return Tensor<T>.FromArray(Device, FromDouble(pooled), batch, f);
    }

    /// <summary>A labeller's d output [B, T, F]: the head's input gradient [B·T, F] as it is.</summary>
    private Tensor<T> StepsBackward(RecurrentResult<T> forward, Tensor<T> dHead)
    {
        var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Config.HeadInputSize);
        Device.Ops<T>().Copy(dHead.Data, dOutput.Data);
        return dOutput;
    }

    /// <summary>d output [B, T, F] (mean, max) or d h_n [L·D, B, H_out] (last) from d pooled [B, F]; the other null.</summary>
    private (Tensor<T>? DOutput, Tensor<T>? DHN) PoolBackward(RecurrentResult<T> forward, Tensor<T> dPooled)
    {
        int batch = forward.Batch, steps = forward.Steps, d = Config.Directions, hOut = Config.HiddenOutputSize, f = d * hOut;
        var g = ToDouble(dPooled.ToArray());
        if (Config.Pool == PoolKind.Last)
        {
            var dhn = new double[Config.NumLayers * d * batch * hOut];
            int top = (Config.NumLayers - 1) * d;
            for (int dir = 0; dir < d; dir++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int k = 0; k < hOut; k++)
                        dhn[((top + dir) * batch + b) * hOut + k] = g[b * f + dir * hOut + k];
                }
            }

            return (null, Tensor<T>.FromArray(Device, FromDouble(dhn), Config.NumLayers * d, batch, hOut));
        }

        var dOutput = new double[batch * steps * f];
        SequencePooling.Backward(Config.Pool, g, _lengths!, _argmax, steps, f, dOutput);
        return (Tensor<T>.FromArray(Device, FromDouble(dOutput), batch, steps, f), null);
    }

    private static double[] ToDouble(T[] values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = Num<T>.ToDouble(values[i]);
        return result;
    }

    private static T[] FromDouble(double[] values)
    {
        var result = new T[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = Num<T>.From(values[i]);
        return result;
    }
}
