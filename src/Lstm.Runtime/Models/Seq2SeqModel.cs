using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A <c>seq2seq</c> model (<see cref="ModelConfig"/>, <see cref="ModelKind.EncoderDecoder"/>): an
/// encoder over the source tokens, a decoder over the target tokens started from the encoder's
/// final state, and global attention over the source (Luong 2015 without input feeding), trained
/// with teacher forcing (<see cref="Forward"/>, <see cref="Backward"/>) and decoded one step at a
/// time (<see cref="Encode"/>, <see cref="Step"/>) for greedy or beam search.
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: B batch, S source steps, U target steps, Vs and Vt the vocabularies, E
/// embedding size, H hidden size, L layers, D encoder directions, K = D·H. State-dict names:
/// <c>encoder_embedding.weight</c> [Vs, E], <c>encoder.*</c> (the LSTM's or GRU's own names),
/// <c>decoder_embedding.weight</c> [Vt, E], <c>decoder.*</c>, <c>attention.weight</c> [H, K]
/// (luong) or <c>attention.query.weight</c> [H, H], <c>attention.key.weight</c> [H, K],
/// <c>attention.v.weight</c> [1, H] (bahdanau), <c>attention_combine.weight</c> [H, K + H],
/// <c>fc.weight</c> [Vt, H], <c>fc.bias</c> [Vt]. In PyTorch:
/// </para>
/// <code>
/// packed = pack_padded_sequence(self.encoder_embedding(src), src_len, batch_first=True, enforce_sorted=False)
/// enc, state = self.encoder(packed)                        # LSTM: state = (h_n, c_n); GRU: h_n
/// enc = pad_packed_sequence(enc, batch_first=True, total_length=S)[0]     # [B, S, K], zeros past src_len
/// state = each of state.view(L, D, B, H).sum(1)           # the directions summed per layer
/// packed = pack_padded_sequence(self.decoder_embedding(dec_in), tgt_len, batch_first=True, enforce_sorted=False)
/// out = pad_packed_sequence(self.decoder(packed, state)[0], batch_first=True, total_length=U)[0]   # [B, U, H]
/// luong:    scores = out @ self.attention(enc).transpose(1, 2)                      # Linear(K, H, bias=False)
/// bahdanau: scores = self.attention.v(torch.tanh(self.attention.query(out)[:, :, None] + self.attention.key(enc)[:, None])).squeeze(-1)
/// scores = scores.masked_fill(arange(S)[None, None] >= src_len[:, None, None], -inf)
/// alpha = scores.softmax(-1)                                                       # [B, U, S]
/// h_tilde = torch.tanh(self.attention_combine(torch.cat([alpha @ enc, out], -1)))  # Linear(K + H, H, bias=False)
/// logits = self.fc(h_tilde)                                # [B, U, Vt]; rows past tgt_len set to 0
/// </code>
/// <para>
/// Dropout p acts between stacked recurrent layers of the encoder and of the decoder, in
/// training only, as <c>nn.LSTM</c>'s dropout. Initialization draws from consecutive seeds: the
/// source embedding, the encoder, the target embedding, the decoder, the attention (its score's
/// weights, then W_c, each U(−1/√in, 1/√in)), the head.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed partial class Seq2SeqModel<T> : IDisposable where T : unmanaged
{
    private TrainingPass? _pass;

    /// <summary>Creates the model with PyTorch's initializations drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="config">A <c>seq2seq</c> configuration (validated here).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid or of another kind.</exception>
    public Seq2SeqModel(ComputeDevice device, ModelConfig config, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (config.Kind != ModelKind.EncoderDecoder)
            throw new LstmException($"model config: kind {ModelConfig.KindName(config.Kind)} is not seq2seq");
        Config = config;
        Device = device;
        int next = seed;
        try
        {
            EncoderEmbedding = new Embedding<T>(device, config.VocabSize, config.EmbeddingDim, next++);
            Encoder = RecurrentLayers.Create<T>(device, config.Cell, config.EmbeddingDim, config.HiddenSize, config.NumLayers, config.Bias, true, config.Dropout, config.Bidirectional, 0, next++);
            DecoderEmbedding = new Embedding<T>(device, config.TargetVocabSize, config.EmbeddingDim, next++);
            Decoder = RecurrentLayers.Create<T>(device, config.Cell, config.EmbeddingDim, config.HiddenSize, config.NumLayers, config.Bias, true, config.Dropout, false, 0, next++);
            Attention = new Seq2SeqAttention<T>(device, config.Attention, config.HiddenSize, config.Directions * config.HiddenSize, next++);
            Fc = new Linear<T>(device, config.HiddenSize, config.TargetVocabSize, next);
        }
        catch
        {
            DisposeLayers();
            throw;
        }

        DropoutSeed = (ulong)(uint)seed;
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The source token table [Vs, E].</summary>
    public Embedding<T> EncoderEmbedding { get; } = null!;

    /// <summary>The encoder (batch-first, bidirectional when configured).</summary>
    public RecurrentLayer<T> Encoder { get; } = null!;

    /// <summary>The target token table [Vt, E].</summary>
    public Embedding<T> DecoderEmbedding { get; } = null!;

    /// <summary>The decoder (batch-first, one direction).</summary>
    public RecurrentLayer<T> Decoder { get; } = null!;

    /// <summary>The head [H] → [Vt].</summary>
    public Linear<T> Fc { get; } = null!;

    /// <summary>The attention's parameters and computation.</summary>
    internal Seq2SeqAttention<T> Attention { get; } = null!;

    /// <summary>
    /// The seed of the dropout masks (when <c>dropout</c> &gt; 0 in training): set a new one before
    /// each training step. The encoder draws from it, the decoder from a stream derived from it.
    /// </summary>
    public ulong DropoutSeed
    {
        get => Encoder.DropoutSeed;
        set
        {
            Encoder.DropoutSeed = value;
            Decoder.DropoutSeed = unchecked(value + 0x9E3779B97F4A7C15UL);
        }
    }

    /// <summary>Loads a saved model: a model directory, its <c>config.json</c> or its safetensors file.</summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="path">A directory, a <c>config.json</c> or a <c>.safetensors</c> file.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static Seq2SeqModel<T> Load(ComputeDevice device, string path)
    {
        ArgumentNullException.ThrowIfNull(device);
        var (configPath, weightsPath) = ModelFolder.Locate(path);
        return ModelFolder.LoadModel<T, Seq2SeqModel<T>>(
            configPath,
            weightsPath,
            config => config.Kind == ModelKind.EncoderDecoder
                ? new Seq2SeqModel<T>(device, config)
                : throw new LstmException($"{configPath}: kind {ModelConfig.KindName(config.Kind)} is not seq2seq"),
            model => model.NamedParameters());
    }

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> into a directory.</summary>
    /// <param name="directory">The directory (created if missing).</param>
    public void Save(string directory) => ModelFolder.Save(directory, Config, NamedParameters());

    /// <summary>Every parameter under its state-dict name, in the order the remarks list them.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        EncoderEmbedding.Parameters().Select(p => ("encoder_embedding." + p.Name, p))
            .Concat(Encoder.Parameters().Select(p => ("encoder." + p.Name, p)))
            .Concat(DecoderEmbedding.Parameters().Select(p => ("decoder_embedding." + p.Name, p)))
            .Concat(Decoder.Parameters().Select(p => ("decoder." + p.Name, p)))
            .Concat(Attention.ScoreParameters().Select(p => ("attention." + p.Name, p)))
            .Append(("attention_combine.weight", Attention.Combine))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleasePass();
        DisposeLayers();
    }

    private void DisposeLayers()
    {
        EncoderEmbedding?.Dispose();
        Encoder?.Dispose();
        DecoderEmbedding?.Dispose();
        Decoder?.Dispose();
        Attention?.Dispose();
        Fc?.Dispose();
    }

    private void ReleasePass()
    {
        _pass?.Dispose();
        _pass = null;
    }

    /// <summary>Checks tokens [B, steps] and their lengths; returns B and the steps.</summary>
    private static (int Batch, int Steps) CheckTokens(Tensor<T> tokens, IReadOnlyList<int> lengths, string what, int batch = -1)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(lengths);
        if (tokens.Shape.Count != 2 || tokens.Shape[0] < 1 || tokens.Shape[1] < 1)
            throw new LstmException($"seq2seq: {what} has shape {tokens.ShapeString}, expected [B, steps] tokens with B, steps ≥ 1");
        if (batch >= 0 && tokens.Shape[0] != batch)
            throw new LstmException($"seq2seq: {what} has shape {tokens.ShapeString}, but the source batch has {batch} rows");
        int rows = tokens.Shape[0], steps = tokens.Shape[1];
        if (lengths.Count != rows)
            throw new LstmException($"seq2seq: {lengths.Count} {what} lengths for a batch of {rows}");
        for (int b = 0; b < rows; b++)
        {
            if (lengths[b] < 1 || lengths[b] > steps)
                throw new LstmException($"seq2seq: {what} row {b} has length {lengths[b]}, outside [1, {steps}]");
        }

        return (rows, steps);
    }

    /// <summary>A device copy of a tensor (the embeddings' backward needs the tokens after the caller's are gone).</summary>
    private Tensor<T> CopyOf(Tensor<T> t)
    {
        var copy = Tensor<T>.Zeros(Device, [.. t.Shape]);
        Device.Ops<T>().Copy(t.Data, copy.Data);
        return copy;
    }

    /// <summary>[n] values of T uploaded.</summary>
    private Tensor<T> Values(IEnumerable<double> values)
    {
        var data = values.Select(Num<T>.From).ToArray();
        return Tensor<T>.FromArray(Device, data, data.Length);
    }
}
