using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lstm.Runtime.Nn;

/// <summary>What a <c>SequenceNetwork</c> computes (<c>kind</c> in <c>config.json</c>).</summary>
public enum ModelKind
{
    /// <summary><c>sequence-to-one</c>: x [B, T, I] → y [B, O], the head on the last state.</summary>
    SequenceToOne,

    /// <summary><c>sequence-to-sequence</c>: x [B, T, I] → y [B·T, O], the head on every step.</summary>
    SequenceToSequence,

    /// <summary><c>language-model</c>: tokens [B, T] → logits [B·T, V] through an embedding, the head on every step.</summary>
    LanguageModel,

    /// <summary>
    /// <c>sequence-classifier</c>: sequences of any length, tokens [B, T] through an embedding
    /// (<c>vocab_size</c> &gt; 0) or values [B, T, I], → logits [B, C]: the head on the steps
    /// pooled as <c>pool</c> says (padding masked).
    /// </summary>
    SequenceClassifier,

    /// <summary>
    /// <c>seq2seq</c>: source tokens [B, S] → target logits [B·U, target_vocab_size], an encoder,
    /// a decoder and attention (<c>Seq2SeqModel</c>; <see cref="AttentionKind"/>).
    /// </summary>
    EncoderDecoder,

    /// <summary>
    /// <c>sequence-labeller</c>: sequences of any length read as a classifier reads them, → logits
    /// [B·T, C]: the head on every step (padding steps carry no meaning).
    /// </summary>
    SequenceLabeller,
}

/// <summary>How a sequence classifier pools its steps (<c>pool</c> in <c>config.json</c>).</summary>
public enum PoolKind
{
    /// <summary><c>last</c>: the top layer's last state, cat(h_n[top fwd], h_n[top bwd]), as sequence-to-one.</summary>
    Last,

    /// <summary><c>mean</c>: the mean of the output over each sequence's own steps.</summary>
    Mean,

    /// <summary><c>max</c>: the largest output of each feature over each sequence's own steps.</summary>
    Max,
}

/// <summary>The recurrent layer of a <c>SequenceNetwork</c> (<c>cell</c> in <c>config.json</c>).</summary>
public enum CellKind
{
    /// <summary><c>lstm</c>: <c>nn.LSTM</c>.</summary>
    Lstm,

    /// <summary><c>gru</c>: <c>nn.GRU</c>.</summary>
    Gru,

    /// <summary><c>rnn-tanh</c>: <c>nn.RNN(nonlinearity='tanh')</c>.</summary>
    RnnTanh,

    /// <summary><c>rnn-relu</c>: <c>nn.RNN(nonlinearity='relu')</c>.</summary>
    RnnRelu,
}

/// <summary>
/// The architecture of a <c>SequenceNetwork</c>, saved as <c>config.json</c> (snake_case
/// keys) next to its weights: what it computes, which recurrent cell with which
/// <c>nn.LSTM</c>/<c>nn.GRU</c>/<c>nn.RNN</c> options, and the sizes of the embedding and head.
/// </summary>
/// <remarks>
/// Dimension letters: I input features, H hidden size, P projection size (LSTM), L layers,
/// D directions, O outputs, V vocabulary, E embedding size.
/// A language model reads its embeddings: <c>input_size</c> = <c>embedding_dim</c> and
/// <c>output_size</c> = <c>vocab_size</c> (<see cref="LanguageModel"/> fills both).
/// </remarks>
/// <param name="Kind">sequence-to-one, sequence-to-sequence or language-model.</param>
/// <param name="Cell">lstm, gru, rnn-tanh or rnn-relu.</param>
/// <param name="InputSize">I: features per step (E for a language model).</param>
/// <param name="HiddenSize">H.</param>
/// <param name="OutputSize">O: outputs of the head (V for a language model).</param>
/// <param name="NumLayers">L ≥ 1.</param>
/// <param name="Bias">False drops the recurrent layer's b_ih and b_hh (the head keeps its bias).</param>
/// <param name="Bidirectional">True adds the reverse direction (D = 2).</param>
/// <param name="Dropout">p in [0, 1) between recurrent layers, in training only.</param>
/// <param name="ProjSize">P (LSTM only): 0 for none, else in [1, H).</param>
/// <param name="VocabSize">V (language model only, else 0).</param>
/// <param name="EmbeddingDim">E (language model only, else 0).</param>
public sealed partial record ModelConfig(
    ModelKind Kind,
    CellKind Cell,
    int InputSize,
    int HiddenSize,
    int OutputSize,
    int NumLayers = 1,
    bool Bias = true,
    bool Bidirectional = false,
    double Dropout = 0,
    int ProjSize = 0,
    int VocabSize = 0,
    int EmbeddingDim = 0)
{
    /// <summary>The <c>format_version</c> this build writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    private static readonly (ModelKind Kind, string Name)[] KindNames =
        [(ModelKind.SequenceToOne, "sequence-to-one"), (ModelKind.SequenceToSequence, "sequence-to-sequence"), (ModelKind.LanguageModel, "language-model"),
            (ModelKind.SequenceClassifier, "sequence-classifier"), (ModelKind.SequenceLabeller, "sequence-labeller"), (ModelKind.EncoderDecoder, "seq2seq")];

    private static readonly (PoolKind Pool, string Name)[] PoolNames = [(PoolKind.Last, "last"), (PoolKind.Mean, "mean"), (PoolKind.Max, "max")];

    private static readonly (CellKind Cell, string Name)[] CellNames =
        [(CellKind.Lstm, "lstm"), (CellKind.Gru, "gru"), (CellKind.RnnTanh, "rnn-tanh"), (CellKind.RnnRelu, "rnn-relu")];

    /// <summary>The format version (<c>format_version</c>); <see cref="Validate"/> accepts only <see cref="CurrentFormatVersion"/>.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>How a sequence classifier pools its steps (<c>last</c> for every other kind).</summary>
    public PoolKind Pool { get; init; } = PoolKind.Last;

    /// <summary>Whether the model reads token ids through an embedding (a language model, or a classifier with a vocabulary).</summary>
    public bool ReadsTokens => Kind is ModelKind.LanguageModel or ModelKind.EncoderDecoder || (ReadsSequences && VocabSize > 0);

    /// <summary>Whether the model reads padded batches of sequences of any length, tokens or values (a sequence classifier or labeller).</summary>
    public bool ReadsSequences => Kind is ModelKind.SequenceClassifier or ModelKind.SequenceLabeller;

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>H_out: features of h (P with a projection, else H).</summary>
    public int HiddenOutputSize => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>Features the head reads: D·H_out (h_n of the top layer's directions, or each step's output).</summary>
    public int HeadInputSize => Directions * HiddenOutputSize;

    /// <summary>The state-dict prefix of the recurrent layer: <c>lstm.</c>, <c>gru.</c> or <c>rnn.</c>.</summary>
    public string RecurrentPrefix => Cell switch
    {
        CellKind.Lstm => "lstm.",
        CellKind.Gru => "gru.",
        _ => "rnn.",
    };

    /// <summary>A language model: <c>input_size</c> = <paramref name="embeddingDim"/>, <c>output_size</c> = <paramref name="vocabSize"/>.</summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="vocabSize">V.</param>
    /// <param name="embeddingDim">E.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="dropout">p between layers.</param>
    /// <param name="projSize">P (LSTM only).</param>
    public static ModelConfig LanguageModel(CellKind cell, int vocabSize, int embeddingDim, int hiddenSize, int numLayers = 1, double dropout = 0, int projSize = 0) =>
        new(ModelKind.LanguageModel, cell, embeddingDim, hiddenSize, vocabSize, numLayers, Dropout: dropout, ProjSize: projSize, VocabSize: vocabSize, EmbeddingDim: embeddingDim);

    /// <summary>
    /// A sequence classifier of <paramref name="classes"/> classes reading tokens of a vocabulary
    /// of <paramref name="vocabSize"/> through an embedding of <paramref name="embeddingDim"/>
    /// (vocabSize &gt; 0), or <paramref name="inputSize"/> values per step (vocabSize 0).
    /// </summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="classes">C ≥ 2.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="pool">How the steps are pooled.</param>
    /// <param name="inputSize">I (values; ignored with a vocabulary).</param>
    /// <param name="vocabSize">V, or 0 for values.</param>
    /// <param name="embeddingDim">E (tokens only).</param>
    /// <param name="numLayers">L.</param>
    /// <param name="bidirectional">True adds the reverse direction.</param>
    /// <param name="dropout">p between layers.</param>
    public static ModelConfig SequenceClassifier(
        CellKind cell, int classes, int hiddenSize, PoolKind pool, int inputSize = 0, int vocabSize = 0, int embeddingDim = 0, int numLayers = 1, bool bidirectional = false, double dropout = 0) =>
        new(ModelKind.SequenceClassifier, cell, vocabSize > 0 ? embeddingDim : inputSize, hiddenSize, classes, numLayers, true, bidirectional, dropout, 0, vocabSize, vocabSize > 0 ? embeddingDim : 0) { Pool = pool };

    /// <summary>A sequence labeller: as <see cref="SequenceClassifier"/>, with logits of <paramref name="classes"/> classes on every step instead of pooling.</summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="classes">C ≥ 2.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="inputSize">I (values; ignored with a vocabulary).</param>
    /// <param name="vocabSize">V, or 0 for values.</param>
    /// <param name="embeddingDim">E (tokens only).</param>
    /// <param name="numLayers">L.</param>
    /// <param name="bidirectional">True adds the reverse direction.</param>
    /// <param name="dropout">p between layers.</param>
    public static ModelConfig SequenceLabeller(
        CellKind cell, int classes, int hiddenSize, int inputSize = 0, int vocabSize = 0, int embeddingDim = 0, int numLayers = 1, bool bidirectional = false, double dropout = 0) =>
        SequenceClassifier(cell, classes, hiddenSize, PoolKind.Last, inputSize, vocabSize, embeddingDim, numLayers, bidirectional, dropout) with { Kind = ModelKind.SequenceLabeller };

    /// <summary>The name of a pooling in <c>config.json</c> and on the command line (<c>last</c>, <c>mean</c>, <c>max</c>).</summary>
    /// <param name="pool">The pooling.</param>
    public static string PoolName(PoolKind pool) =>
        PoolNames.FirstOrDefault(p => p.Pool == pool).Name ?? ((int)pool).ToString(CultureInfo.InvariantCulture);

    /// <summary>The pooling named <paramref name="name"/>.</summary>
    /// <param name="name">last, mean or max.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static PoolKind ParsePool(string name)
    {
        foreach (var (p, n) in PoolNames)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
                return p;
        }

        throw new LstmException($"pool '{name}' is not one of {string.Join(", ", PoolNames.Select(p => p.Name))}");
    }

    /// <summary>The name of a kind in <c>config.json</c> (<c>sequence-to-one</c>, ...).</summary>
    /// <param name="kind">The kind.</param>
    public static string KindName(ModelKind kind) =>
        KindNames.FirstOrDefault(k => k.Kind == kind).Name ?? ((int)kind).ToString(CultureInfo.InvariantCulture);

    /// <summary>The name of a cell in <c>config.json</c> (<c>lstm</c>, <c>gru</c>, <c>rnn-tanh</c>, <c>rnn-relu</c>).</summary>
    /// <param name="cell">The cell.</param>
    public static string CellName(CellKind cell) =>
        CellNames.FirstOrDefault(c => c.Cell == cell).Name ?? ((int)cell).ToString(CultureInfo.InvariantCulture);

    /// <summary>The kind named <paramref name="name"/> (as <c>config.json</c> and the command line spell it).</summary>
    /// <param name="name">sequence-to-one, sequence-to-sequence or language-model.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static ModelKind ParseKind(string name)
    {
        foreach (var (k, n) in KindNames)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
                return k;
        }

        throw new LstmException($"model kind '{name}' is not one of {string.Join(", ", KindNames.Select(k => k.Name))}");
    }

    /// <summary>The cell named <paramref name="name"/> (as <c>config.json</c> and the command line spell it).</summary>
    /// <param name="name">lstm, gru, rnn-tanh or rnn-relu.</param>
    /// <exception cref="LstmException">Not one of them.</exception>
    public static CellKind ParseCell(string name)
    {
        foreach (var (c, n) in CellNames)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
                return c;
        }

        throw new LstmException($"model cell '{name}' is not one of {string.Join(", ", CellNames.Select(c => c.Name))}");
    }

    /// <summary>Why a layer of <paramref name="cell"/> cannot have a projection of <paramref name="projSize"/> (only an LSTM has one), or null when it can.</summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="projSize">P (0 for none).</param>
    public static string? ProjectionError(CellKind cell, int projSize) =>
        projSize != 0 && cell != CellKind.Lstm ? $"proj_size={projSize} is for cell lstm only; a {CellName(cell)} layer has no projection (use 0)" : null;

    /// <summary>The largest size of any one dimension (hidden, input, output, vocabulary, embedding, projection): 2²⁴.</summary>
    public const int MaxSize = 1 << 24;

    /// <summary>The most layers: 1024.</summary>
    public const int MaxLayers = 1024;

    /// <summary>
    /// Sizes within <see cref="MaxSize"/> and <see cref="MaxLayers"/>, and every weight matrix
    /// within the elements one array may hold, so that nothing overflows before memory is asked for.
    /// </summary>
    private void CheckBounds()
    {
        foreach (var (name, value) in new[] { ("hidden_size", HiddenSize), ("input_size", InputSize), ("output_size", OutputSize), ("vocab_size", VocabSize), ("embedding_dim", EmbeddingDim), ("proj_size", ProjSize) })
        {
            if (value > MaxSize)
                throw Bad($"{name}={value} exceeds the largest size, {MaxSize}");
        }

        if (NumLayers > MaxLayers)
            throw Bad($"num_layers={NumLayers} exceeds the most layers, {MaxLayers}");
        long gates = (long)HiddenSize * (Cell == CellKind.Lstm ? 4 : Cell == CellKind.Gru ? 3 : 1);
        long directions = Bidirectional ? 2 : 1;
        long width = Math.Max(InputSize, directions * HiddenOutputSize);
        foreach (var (what, elements) in new[]
        {
            ("weight_ih (gates × input)", gates * width), ("weight_hh (gates × hidden)", gates * HiddenOutputSize),
            ("the embedding (vocab_size × embedding_dim)", (long)VocabSize * EmbeddingDim), ("the head (output_size × hidden)", (long)OutputSize * directions * HiddenOutputSize),
        })
        {
            if (elements > Array.MaxLength)
                throw Bad($"{what} would hold {elements} elements, more than one array holds ({Array.MaxLength}); hidden_size={HiddenSize}, input_size={InputSize}, output_size={OutputSize}");
        }
    }

    /// <summary>Throws one <see cref="LstmException"/> naming the first bad field and its value.</summary>
    /// <exception cref="LstmException">A field is out of range or does not fit the kind or cell.</exception>
    public void Validate()
    {
        if (FormatVersion != CurrentFormatVersion)
            throw Bad($"format_version={FormatVersion} is not supported (this build reads version {CurrentFormatVersion})");
        if (!Enum.IsDefined(Kind))
            throw Bad($"kind={(int)Kind} is not one of {string.Join(", ", KindNames.Select(k => k.Name))}");
        if (!Enum.IsDefined(Cell))
            throw Bad($"cell={(int)Cell} is not one of {string.Join(", ", CellNames.Select(c => c.Name))}");
        if (HiddenSize <= 0)
            throw Bad($"hidden_size={HiddenSize} must be positive");
        if (NumLayers <= 0)
            throw Bad($"num_layers={NumLayers} must be positive");
        CheckBounds();
        if (ProjectionError(Cell, ProjSize) is { } projection)
            throw Bad(projection);

        if (Kind == ModelKind.LanguageModel)
        {
            if (VocabSize <= 0)
                throw Bad($"vocab_size={VocabSize} must be positive for kind language-model");
            if (EmbeddingDim <= 0)
                throw Bad($"embedding_dim={EmbeddingDim} must be positive for kind language-model");
            if (InputSize != EmbeddingDim)
                throw Bad($"input_size={InputSize} must equal embedding_dim={EmbeddingDim} for kind language-model (the recurrent layer reads the embeddings)");
            if (OutputSize != VocabSize)
                throw Bad($"output_size={OutputSize} must equal vocab_size={VocabSize} for kind language-model (one logit per token)");
        }
        else if (ReadsSequences)
        {
            if (!Enum.IsDefined(Pool))
                throw Bad($"pool={(int)Pool} is not one of {string.Join(", ", PoolNames.Select(p => p.Name))}");
            if (OutputSize < 2)
                throw Bad($"output_size={OutputSize}: a {KindName(Kind)} needs at least 2 classes");
            if (VocabSize < 0 || (VocabSize > 0 ? EmbeddingDim <= 0 || InputSize != EmbeddingDim : EmbeddingDim != 0 || InputSize <= 0))
                throw Bad($"vocab_size={VocabSize}, embedding_dim={EmbeddingDim}, input_size={InputSize}: a sequence classifier reads tokens (vocab_size and embedding_dim positive, input_size = embedding_dim) or values (vocab_size and embedding_dim 0, input_size positive)");
        }
        else if (Kind == ModelKind.EncoderDecoder)
        {
            ValidateEncoderDecoder();
        }
        else
        {
            if (InputSize <= 0)
                throw Bad($"input_size={InputSize} must be positive");
            if (OutputSize <= 0)
                throw Bad($"output_size={OutputSize} must be positive");
            if (VocabSize != 0)
                throw Bad($"vocab_size={VocabSize} is for kind language-model only (kind is {KindName(Kind)}; use 0)");
            if (EmbeddingDim != 0)
                throw Bad($"embedding_dim={EmbeddingDim} is for kind language-model only (kind is {KindName(Kind)}; use 0)");
        }

        if (Kind != ModelKind.SequenceClassifier && Pool != PoolKind.Last)
            throw Bad($"pool={PoolName(Pool)} is for kind sequence-classifier only (kind is {KindName(Kind)})");
        if (Kind != ModelKind.EncoderDecoder && (TargetVocabSize != 0 || Attention != AttentionKind.Luong))
            throw Bad($"target_vocab_size={TargetVocabSize} and attention={AttentionName(Attention)} are for kind seq2seq only (kind is {KindName(Kind)})");

        // Dropout and proj_size follow the recurrent layer's own rules.
        try
        {
            RecurrentOptions.Validate(CellName(Cell), InputSize, HiddenSize, NumLayers, Dropout, ProjSize);
        }
        catch (LstmException e)
        {
            throw new LstmException($"model config: {e.Message}", e);
        }
    }

    /// <summary>The configuration as indented snake_case JSON (vocab_size and embedding_dim only for a language model).</summary>
    public string ToJson() => JsonSerializer.Serialize(
        new ModelConfigJson
        {
            FormatVersion = FormatVersion,
            Kind = KindName(Kind),
            Cell = CellName(Cell),
            InputSize = InputSize,
            HiddenSize = HiddenSize,
            NumLayers = NumLayers,
            Bias = Bias,
            Bidirectional = Bidirectional,
            Dropout = Dropout,
            ProjSize = ProjSize,
            OutputSize = OutputSize,
            VocabSize = ReadsTokens ? VocabSize : null,
            EmbeddingDim = ReadsTokens ? EmbeddingDim : null,
            Pool = Kind == ModelKind.SequenceClassifier ? PoolName(Pool) : null,
            TargetVocabSize = Kind == ModelKind.EncoderDecoder ? TargetVocabSize : null,
            Attention = Kind == ModelKind.EncoderDecoder ? AttentionName(Attention) : null,
        },
        ModelConfigJsonContext.Default.ModelConfigJson);

    /// <summary>Parses and validates a configuration.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">Where it came from, for messages.</param>
    /// <exception cref="LstmException">The JSON is malformed, has an unknown or missing key, or a bad value.</exception>
    public static ModelConfig FromJson(string json, string source = "model config")
    {
        ArgumentNullException.ThrowIfNull(json);
        ModelConfigJson? raw;
        try
        {
            raw = JsonSerializer.Deserialize(json, ModelConfigJsonContext.Default.ModelConfigJson);
        }
        catch (JsonException e)
        {
            throw new LstmException($"{source}: not a model configuration: {e.Message}", e);
        }

        if (raw is null)
            throw new LstmException($"{source}: not a model configuration: the JSON is null");
        int version = raw.FormatVersion ?? throw Missing(source, "format_version");
        string kindName = raw.Kind ?? throw Missing(source, "kind");
        string cellName = raw.Cell ?? throw Missing(source, "cell");
        ModelKind kind;
        CellKind cell;
        PoolKind pool;
        AttentionKind attention;
        try
        {
            kind = ParseKind(kindName);
            cell = ParseCell(cellName);
            pool = raw.Pool is { } poolName ? ParsePool(poolName) : PoolKind.Last;
            attention = raw.Attention is { } attentionName ? ParseAttention(attentionName) : AttentionKind.Luong;
        }
        catch (LstmException e)
        {
            throw new LstmException($"{source}: {e.Message}", e);
        }

        bool seq2seq = kind == ModelKind.EncoderDecoder;
        int targetVocab = seq2seq ? raw.TargetVocabSize ?? throw Missing(source, "target_vocab_size") : raw.TargetVocabSize ?? 0;
        bool lm = kind == ModelKind.LanguageModel || seq2seq;
        bool classifierTokens = kind is ModelKind.SequenceClassifier or ModelKind.SequenceLabeller && raw.VocabSize is > 0;
        int vocab = lm ? raw.VocabSize ?? throw Missing(source, "vocab_size") : raw.VocabSize ?? 0;
        int embedding = lm ? raw.EmbeddingDim ?? throw Missing(source, "embedding_dim") : raw.EmbeddingDim ?? 0;
        var config = new ModelConfig(
            kind,
            cell,
            lm || classifierTokens ? raw.InputSize ?? embedding : raw.InputSize ?? throw Missing(source, "input_size"),
            raw.HiddenSize ?? throw Missing(source, "hidden_size"),
            lm ? raw.OutputSize ?? (seq2seq ? targetVocab : vocab) : raw.OutputSize ?? throw Missing(source, "output_size"),
            raw.NumLayers ?? 1,
            raw.Bias ?? true,
            raw.Bidirectional ?? false,
            raw.Dropout ?? 0,
            raw.ProjSize ?? 0,
            vocab,
            embedding)
        { FormatVersion = version, Pool = pool, TargetVocabSize = targetVocab, Attention = attention };
        try
        {
            config.Validate();
        }
        catch (LstmException e)
        {
            throw new LstmException($"{source}: {e.Message}", e);
        }

        return config;
    }

    private static LstmException Bad(string message) => new($"model config: {message}");

    private static LstmException Missing(string source, string key) => new($"{source}: model config has no '{key}'");
}
