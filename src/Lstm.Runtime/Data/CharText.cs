using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Data;

/// <summary>The JSON form of a <see cref="CharVocabulary"/>: the characters in id order.</summary>
/// <param name="Chars">Character i has id i; each entry is one UTF-16 character.</param>
internal sealed record CharVocabularyFile(IReadOnlyList<string> Chars);

/// <summary>
/// A character-level vocabulary: the distinct characters of a text, sorted by code, id = rank.
/// Saved as JSON (<c>{"chars": ["\n", " ", "a", …]}</c>) beside the model.
/// </summary>
public sealed class CharVocabulary
{
    private readonly char[] _chars;
    private readonly Dictionary<char, int> _ids;

    private CharVocabulary(char[] chars)
    {
        _chars = chars;
        _ids = new Dictionary<char, int>(chars.Length);
        for (int i = 0; i < chars.Length; i++)
        {
            if (!_ids.TryAdd(chars[i], i))
                throw new LstmException($"vocabulary lists character {Describe(chars[i])} twice");
        }
    }

    /// <summary>Number of characters (C, the classes of a language model).</summary>
    public int Size => _chars.Length;

    /// <summary>The characters in id order.</summary>
    public IReadOnlyList<char> Chars => _chars;

    /// <summary>The vocabulary of a text.</summary>
    /// <param name="text">The training text (not empty).</param>
    public static CharVocabulary FromText(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var chars = text.Distinct().ToArray();
        Array.Sort(chars);
        return new CharVocabulary(chars);
    }

    /// <summary>The id of each character.</summary>
    /// <param name="text">Text made of the vocabulary's characters.</param>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i], out ids[i]))
                throw new LstmException($"character {Describe(text[i])} at position {i} is not in the vocabulary of {Size}");
        }

        return ids;
    }

    /// <summary>The text of ids.</summary>
    /// <param name="ids">Ids in [0, <see cref="Size"/>).</param>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_chars.Length)
                throw new LstmException($"id {id} is outside a vocabulary of {Size}");
            sb.Append(_chars[id]);
        }

        return sb.ToString();
    }

    /// <summary>Writes the vocabulary as JSON.</summary>
    /// <param name="path">The file.</param>
    public void Save(string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new CharVocabularyFile(_chars.Select(c => c.ToString()).ToArray()), DataJson.Default.CharVocabularyFile));

    /// <summary>Reads a vocabulary written by <see cref="Save"/>.</summary>
    /// <param name="path">The file.</param>
    public static CharVocabulary Load(string path)
    {
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(path), DataJson.Default.CharVocabularyFile);
            if (file?.Chars is not { Count: > 0 } chars)
                throw new LstmException($"{path}: the vocabulary has no characters");
            var bad = chars.Select((c, i) => (c, i)).FirstOrDefault(p => p.c is null || p.c.Length != 1);
            if (bad.c is not null || chars.Any(c => c is null))
                throw new LstmException($"{path}: vocabulary entry {bad.i} is not one character");
            return new CharVocabulary(chars.Select(c => c[0]).ToArray());
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: not a vocabulary file: {e.Message}", e);
        }
    }

    private static string Describe(char c) =>
        char.IsControl(c) ? $"U+{((int)c).ToString("X4", CultureInfo.InvariantCulture)}" : $"'{c}'";
}

/// <summary>
/// Windows of N characters for a character language model: sample s has x = ids[s·S, s·S + N)
/// ([N, 1], each id as an exact number) and y = ids[s·S + 1, s·S + N + 1) ([N]: the next
/// character at every step), S the stride between windows.
/// </summary>
public sealed class CharTextDataset : ISequenceDataset
{
    private readonly int[] _ids;

    /// <summary>Creates the windows.</summary>
    /// <param name="ids">The encoded text.</param>
    /// <param name="steps">N (≥ 1).</param>
    /// <param name="stride">S (≥ 1); N by default (windows that do not overlap).</param>
    public CharTextDataset(int[] ids, int steps, int stride = 0)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (steps < 1)
            throw new LstmException($"window of {steps} characters: must be ≥ 1");
        Stride = stride == 0 ? steps : stride;
        if (Stride < 1)
            throw new LstmException($"window stride {stride} must be ≥ 1");
        if (ids.Length < steps + 1)
            throw new LstmException($"a text of {ids.Length} characters is too short for windows of {steps} (and the next character)");
        _ids = ids;
        Steps = steps;
        Count = (ids.Length - steps - 1) / Stride + 1;
    }

    /// <summary>S.</summary>
    public int Stride { get; }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize => 1;

    /// <inheritdoc/>
    public int TargetLength => Steps;

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        int s = index * Stride;
        for (int t = 0; t < Steps; t++)
        {
            x[t] = _ids[s + t];
            y[t] = _ids[s + t + 1];
        }
    }
}
