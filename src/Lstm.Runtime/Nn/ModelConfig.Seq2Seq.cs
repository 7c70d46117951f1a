using System.Globalization;

namespace Lstm.Runtime.Nn;

/// <summary>How a <c>seq2seq</c> model scores a decoder state against the encoder's outputs (<c>attention</c> in <c>config.json</c>).</summary>
public enum AttentionKind
{
    /// <summary><c>luong</c>: Luong's "general" score, h_t · (W_a h̄_s).</summary>
    Luong,

    /// <summary><c>bahdanau</c>: Bahdanau's additive score, v · tanh(W_q h_t + W_k h̄_s).</summary>
    Bahdanau,
}

/// <content>The encoder-decoder (<c>seq2seq</c>) fields: the target vocabulary and the attention, their names and rules.</content>
public sealed partial record ModelConfig
{
    private static readonly (AttentionKind Attention, string Name)[] AttentionNames = [(AttentionKind.Luong, "luong"), (AttentionKind.Bahdanau, "bahdanau")];

    /// <summary>Vt: the target vocabulary of a <c>seq2seq</c> model (<c>target_vocab_size</c>; 0 for every other kind).</summary>
    public int TargetVocabSize { get; init; }

    /// <summary>The attention of a <c>seq2seq</c> model (<c>attention</c>; <c>luong</c> for every other kind).</summary>
    public AttentionKind Attention { get; init; } = AttentionKind.Luong;

    /// <summary>
    /// An encoder-decoder with attention: the encoder reads source tokens of a vocabulary of
    /// <paramref name="sourceVocabSize"/> (<c>vocab_size</c>), the decoder writes tokens of
    /// <paramref name="targetVocabSize"/>; both embed into <paramref name="embeddingDim"/>
    /// (<c>input_size</c> = E) and the head has one logit per target token (<c>output_size</c> = Vt).
    /// </summary>
    /// <param name="cell">lstm or gru (the encoder's and the decoder's).</param>
    /// <param name="sourceVocabSize">Vs.</param>
    /// <param name="targetVocabSize">Vt.</param>
    /// <param name="embeddingDim">E.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="attention">luong or bahdanau.</param>
    /// <param name="numLayers">L (the encoder's and the decoder's).</param>
    /// <param name="bidirectional">True makes the encoder bidirectional.</param>
    /// <param name="dropout">p between recurrent layers.</param>
    public static ModelConfig EncoderDecoder(
        CellKind cell, int sourceVocabSize, int targetVocabSize, int embeddingDim, int hiddenSize, AttentionKind attention = AttentionKind.Luong,
        int numLayers = 1, bool bidirectional = false, double dropout = 0) =>
        new(ModelKind.EncoderDecoder, cell, embeddingDim, hiddenSize, targetVocabSize, numLayers, true, bidirectional, dropout, 0, sourceVocabSize, embeddingDim)
        {
            TargetVocabSize = targetVocabSize,
            Attention = attention,
        };

    /// <summary>The name of an attention in <c>config.json</c> and on the command line (<c>luong</c>, <c>bahdanau</c>).</summary>
    /// <param name="attention">The attention.</param>
    public static string AttentionName(AttentionKind attention) =>
        AttentionNames.FirstOrDefault(a => a.Attention == attention).Name ?? ((int)attention).ToString(CultureInfo.InvariantCulture);

    /// <summary>The attention named <paramref name="name"/>.</summary>
    /// <param name="name">luong or bahdanau.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static AttentionKind ParseAttention(string name)
    {
        foreach (var (a, n) in AttentionNames)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
                return a;
        }

        throw new LstmException($"attention '{name}' is not one of {string.Join(", ", AttentionNames.Select(a => a.Name))}");
    }

    /// <summary>The rules of kind seq2seq: both vocabularies and the embedding positive, input and output sizes theirs, an LSTM or GRU without projection.</summary>
    private void ValidateEncoderDecoder()
    {
        if (Cell is not (CellKind.Lstm or CellKind.Gru))
            throw Bad($"cell={CellName(Cell)}: a seq2seq model's encoder and decoder are lstm or gru");
        if (ProjSize != 0)
            throw Bad($"proj_size={ProjSize}: a seq2seq model has no projection (use 0)");
        if (!Enum.IsDefined(Attention))
            throw Bad($"attention={(int)Attention} is not one of {string.Join(", ", AttentionNames.Select(a => a.Name))}");
        if (VocabSize <= 0)
            throw Bad($"vocab_size={VocabSize} (the source vocabulary) must be positive for kind seq2seq");
        if (TargetVocabSize <= 0)
            throw Bad($"target_vocab_size={TargetVocabSize} must be positive for kind seq2seq");
        if (TargetVocabSize > MaxSize)
            throw Bad($"target_vocab_size={TargetVocabSize} exceeds the largest size, {MaxSize}");
        if (EmbeddingDim <= 0)
            throw Bad($"embedding_dim={EmbeddingDim} must be positive for kind seq2seq");
        if ((long)TargetVocabSize * Math.Max(EmbeddingDim, HiddenSize) > Array.MaxLength)
            throw Bad($"the target embedding or head (target_vocab_size={TargetVocabSize} × {Math.Max(EmbeddingDim, HiddenSize)}) would hold more elements than one array holds ({Array.MaxLength})");
        if (InputSize != EmbeddingDim)
            throw Bad($"input_size={InputSize} must equal embedding_dim={EmbeddingDim} for kind seq2seq (the encoder and decoder read the embeddings)");
        if (OutputSize != TargetVocabSize)
            throw Bad($"output_size={OutputSize} must equal target_vocab_size={TargetVocabSize} for kind seq2seq (one logit per target token)");
    }
}
