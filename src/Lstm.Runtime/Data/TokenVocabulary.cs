using System.Text;

namespace Lstm.Runtime.Data;

/// <summary>
/// A vocabulary of an encoder-decoder's side: four special tokens first (<see cref="Pad"/> id 0,
/// <see cref="Unknown"/> 1, <see cref="Begin"/> 2, <see cref="End"/> 3), then the most frequent
/// training tokens. Tokens are Unicode characters or lower-cased words
/// (<see cref="ClassifierData.Tokenize"/>); text is rebuilt from ids by joining characters, or
/// words with one space.
/// </summary>
public sealed class TokenVocabulary
{
    /// <summary>Padding, id 0 (never a prediction).</summary>
    public const string Pad = "<pad>";

    /// <summary>Every token not in the vocabulary, id 1.</summary>
    public const string Unknown = "<unk>";

    /// <summary>The decoder's first input, id 2.</summary>
    public const string Begin = "<bos>";

    /// <summary>The end of a sequence, id 3: the decoder's last target.</summary>
    public const string End = "<eos>";

    /// <summary>Id of <see cref="Pad"/>.</summary>
    public const int PadId = 0;

    /// <summary>Id of <see cref="Unknown"/>.</summary>
    public const int UnknownId = 1;

    /// <summary>Id of <see cref="Begin"/>.</summary>
    public const int BeginId = 2;

    /// <summary>Id of <see cref="End"/>.</summary>
    public const int EndId = 3;

    /// <summary>The specials, in id order.</summary>
    public static readonly IReadOnlyList<string> Specials = [Pad, Unknown, Begin, End];

    private readonly Dictionary<string, int> _ids;

    /// <summary>A vocabulary of these tokens in id order (the four specials first).</summary>
    /// <param name="tokens">The tokens.</param>
    /// <param name="mode"><c>char</c> or <c>word</c>.</param>
    /// <exception cref="LstmException">The specials are not first, or a token repeats.</exception>
    public TokenVocabulary(IReadOnlyList<string> tokens, string mode)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ClassifierData.CheckTokens(mode);
        if (tokens.Count <= Specials.Count || !tokens.Take(Specials.Count).SequenceEqual(Specials))
            throw new LstmException($"a vocabulary starts with {string.Join(", ", Specials)} and holds at least one more token");
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!_ids.TryAdd(tokens[i], i))
                throw new LstmException($"a vocabulary holds '{tokens[i]}' twice");
        }

        Tokens = tokens.ToArray();
        Mode = mode;
    }

    /// <summary>The tokens in id order.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary><c>char</c> or <c>word</c>.</summary>
    public string Mode { get; }

    /// <summary>Tokens, the specials included.</summary>
    public int Count => Tokens.Count;

    /// <summary>
    /// The vocabulary of texts: the specials, then the <paramref name="cap"/> − 4 most frequent
    /// tokens (ties in ordinal order).
    /// </summary>
    /// <param name="texts">The training texts.</param>
    /// <param name="mode"><c>char</c> or <c>word</c>.</param>
    /// <param name="cap">The largest size, the specials included (≥ 5).</param>
    public static TokenVocabulary Fit(IEnumerable<string> texts, string mode, int cap)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (cap <= Specials.Count)
            throw new LstmException($"--vocab-size {cap}: must be at least {Specials.Count + 1} (the specials {string.Join(" ", Specials)} and one token)");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in texts)
        {
            foreach (string t in ClassifierData.Tokenize(text, mode))
                counts[t] = counts.GetValueOrDefault(t) + 1;
        }

        var tokens = new List<string>(Specials);
        tokens.AddRange(counts.Where(kv => !Specials.Contains(kv.Key)).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Take(cap - Specials.Count).Select(kv => kv.Key));
        if (tokens.Count == Specials.Count)
            throw new LstmException("the training texts hold no tokens");
        return new TokenVocabulary(tokens, mode);
    }

    /// <summary>The ids of a text's tokens (<see cref="UnknownId"/> for a token not in the vocabulary).</summary>
    /// <param name="text">The text.</param>
    public int[] Encode(string text) => ClassifierData.Tokenize(text, Mode).Select(t => _ids.GetValueOrDefault(t, UnknownId)).ToArray();

    /// <summary>Token count of a text.</summary>
    /// <param name="text">The text.</param>
    public int CountTokens(string text) => ClassifierData.Tokenize(text, Mode).Count;

    /// <summary>The text of ids: characters joined, or words joined by a space; specials other than <see cref="Unknown"/> are left out.</summary>
    /// <param name="ids">Token ids.</param>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            if (id is PadId or BeginId or EndId || (uint)id >= (uint)Count)
                continue;
            if (Mode == "word" && text.Length > 0)
                text.Append(' ');
            text.Append(Tokens[id]);
        }

        return text.ToString();
    }
}
