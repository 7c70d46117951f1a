using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lstm.Runtime.Data;

/// <summary>
/// What an encoder-decoder needs to read new pairs as it read its training pairs, saved as
/// <c>seq2seq.json</c> beside the model: where the pairs come from (a file or a task), the token
/// mode, the source and target vocabularies (each with the four specials first) and the longest
/// training sides.
/// </summary>
public sealed record PairData
{
    private static readonly PairJson Readable = new(new JsonSerializerOptions(PairJson.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>The file name in a model folder.</summary>
    public const string FileName = "seq2seq.json";

    /// <summary><c>file</c> or <c>task</c>.</summary>
    public string Source { get; init; } = "file";

    /// <summary>The task's name (a task's pairs).</summary>
    public string? Task { get; init; }

    /// <summary><c>char</c> or <c>word</c>.</summary>
    public string Tokens { get; init; } = "char";

    /// <summary>The source tokens in id order.</summary>
    public IReadOnlyList<string> SourceVocabulary { get; init; } = [];

    /// <summary>The target tokens in id order.</summary>
    public IReadOnlyList<string> TargetVocabulary { get; init; } = [];

    /// <summary>The longest training source, in tokens.</summary>
    public int MaxSourceTokens { get; init; }

    /// <summary>The longest training target, in tokens.</summary>
    public int MaxTargetTokens { get; init; }

    /// <summary>The source vocabulary.</summary>
    [JsonIgnore]
    public TokenVocabulary SourceTokens => _source ??= new TokenVocabulary(SourceVocabulary, Tokens);

    /// <summary>The target vocabulary.</summary>
    [JsonIgnore]
    public TokenVocabulary TargetTokens => _target ??= new TokenVocabulary(TargetVocabulary, Tokens);

    private TokenVocabulary? _source;
    private TokenVocabulary? _target;

    /// <summary>Fits the two vocabularies on the training pairs (each capped at <paramref name="vocabSize"/>, the specials included).</summary>
    /// <param name="train">The training pairs.</param>
    /// <param name="tokens"><c>char</c> or <c>word</c>.</param>
    /// <param name="vocabSize">The cap of each vocabulary.</param>
    /// <param name="task">The task's name, or null for a file.</param>
    public static PairData Fit(IReadOnlyList<TextPair> train, string tokens, int vocabSize, string? task)
    {
        ArgumentNullException.ThrowIfNull(train);
        var source = TokenVocabulary.Fit(train.Select(p => p.Source), tokens, vocabSize);
        var target = TokenVocabulary.Fit(train.Select(p => p.Target!), tokens, vocabSize);
        return new PairData
        {
            Source = task is null ? "file" : "task", Task = task, Tokens = tokens, SourceVocabulary = source.Tokens, TargetVocabulary = target.Tokens,
            MaxSourceTokens = train.Max(p => source.CountTokens(p.Source)), MaxTargetTokens = train.Max(p => target.CountTokens(p.Target!)),
        };
    }

    /// <summary>What one token is, in words: characters or words.</summary>
    [JsonIgnore]
    public string TokenWord => Tokens == "word" ? "words" : "characters";

    /// <summary>The pairs as token ids (a token not in a vocabulary as <c>&lt;unk&gt;</c>).</summary>
    /// <param name="pairs">The pairs.</param>
    /// <param name="source">The file or task, for messages.</param>
    /// <param name="maxLength">The most tokens a side may have.</param>
    /// <exception cref="LstmException">A side has no tokens or more than <paramref name="maxLength"/> (the message names the file and line).</exception>
    public PairSequences Encode(IReadOnlyList<TextPair> pairs, string source, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var sources = new int[pairs.Count][];
        var targets = new int[pairs.Count][];
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i];
            sources[i] = EncodeSide(SourceTokens, p.Source, "source", source, p.Line, maxLength);
            targets[i] = EncodeSide(TargetTokens, p.Target ?? throw new LstmException($"{Where(source, p.Line)}: no target"), "target", source, p.Line, maxLength);
        }

        return new PairSequences(sources, targets);
    }

    /// <summary>A source's ids, checked as <see cref="Encode"/> checks them.</summary>
    /// <param name="text">The source text.</param>
    /// <param name="source">The file or input, for messages.</param>
    /// <param name="line">The line (0: none).</param>
    /// <param name="maxLength">The most tokens.</param>
    public int[] EncodeSource(string text, string source, int line, int maxLength) => EncodeSide(SourceTokens, text, "source", source, line, maxLength);

    /// <summary>The file's JSON (snake_case, indented; tokens written as they are).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Readable.PairData);

    /// <summary>Reads <c>seq2seq.json</c>.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">It is missing or not such a file.</exception>
    public static PairData Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file (an encoder-decoder's model folder holds it)");
        try
        {
            var data = JsonSerializer.Deserialize(File.ReadAllText(path), PairJson.Default.PairData) ?? throw new LstmException($"{path}: null");
            ClassifierData.CheckTokens(data.Tokens);
            _ = data.SourceTokens;
            _ = data.TargetTokens;
            return data;
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
        catch (LstmException e)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
    }

    private int[] EncodeSide(TokenVocabulary vocabulary, string text, string side, string source, int line, int maxLength)
    {
        var ids = vocabulary.Encode(text);
        if (ids.Length == 0)
            throw new LstmException($"{Where(source, line)}: the {side} has no {TokenWord}");
        if (ids.Length > maxLength)
            throw new LstmException($"{Where(source, line)}: the {side} has {ids.Length} {TokenWord}, more than --max-length {maxLength}");
        return ids;
    }

    private static string Where(string source, int line) => line > 0 ? $"{source} line {line}" : source;
}

/// <summary>Source-generated JSON for <c>seq2seq.json</c>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(PairData))]
internal sealed partial class PairJson : JsonSerializerContext
{
}
