using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lstm.Runtime.Data;

/// <summary>The JSON form of a <see cref="CharVocabulary"/>: the characters in id order.</summary>
/// <param name="Chars">Character i has id i; each entry is one Unicode scalar value (one or two UTF-16 code units).</param>
internal sealed record CharVocabularyFile(IReadOnlyList<string> Chars);

/// <summary>
/// A character-level vocabulary: the distinct Unicode scalar values (<see cref="Rune"/>) of a
/// text, sorted by code point, id = rank. A character outside the Basic Multilingual Plane (an
/// emoji) is one character, not two surrogates; a combining mark is a character of its own.
/// Saved as JSON (<c>{"chars": ["\n", " ", "a", …]}</c>) beside the model.
/// </summary>
public sealed class CharVocabulary
{
    private readonly Rune[] _chars;
    private readonly Dictionary<Rune, int> _ids;

    private CharVocabulary(Rune[] chars)
    {
        _chars = chars;
        _ids = new Dictionary<Rune, int>(chars.Length);
        for (int i = 0; i < chars.Length; i++)
        {
            if (!_ids.TryAdd(chars[i], i))
                throw new LstmException($"vocabulary lists character {Describe(chars[i])} twice");
        }
    }

    /// <summary>Number of characters (C, the classes of a language model).</summary>
    public int Size => _chars.Length;

    /// <summary>The characters in id order.</summary>
    public IReadOnlyList<Rune> Chars => _chars;

    /// <summary>The vocabulary of a text.</summary>
    /// <param name="text">The training text (not empty).</param>
    public static CharVocabulary FromText(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var chars = new HashSet<Rune>();
        foreach (var r in text.EnumerateRunes())
            chars.Add(r);
        var sorted = chars.ToArray();
        Array.Sort(sorted);
        return new CharVocabulary(sorted);
    }

    /// <summary>Whether <paramref name="c"/> is one of the characters.</summary>
    /// <param name="c">A character.</param>
    public bool Contains(Rune c) => _ids.ContainsKey(c);

    /// <summary>The id of each character (Unicode scalar value) of a text; a lone surrogate reads as U+FFFD.</summary>
    /// <param name="text">Text made of the vocabulary's characters.</param>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
        foreach (var r in text.EnumerateRunes())
        {
            if (!_ids.TryGetValue(r, out int id))
                throw new LstmException($"character {Describe(r)} at position {ids.Count} is not in the vocabulary of {Size}");
            ids.Add(id);
        }

        return ids.ToArray();
    }

    /// <summary>The text of ids.</summary>
    /// <param name="ids">Ids in [0, <see cref="Size"/>).</param>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        Span<char> units = stackalloc char[2];
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_chars.Length)
                throw new LstmException($"id {id} is outside a vocabulary of {Size}");
            int n = _chars[id].EncodeToUtf16(units);
            sb.Append(units[..n]);
        }

        return sb.ToString();
    }

    /// <summary>Writes the vocabulary as JSON.</summary>
    /// <param name="path">The file.</param>
    public void Save(string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new CharVocabularyFile(_chars.Select(c => c.ToString()).ToArray()), DataJson.Default.CharVocabularyFile));

    /// <summary>Reads a vocabulary written by <see cref="Save"/> (files of one UTF-16 unit per entry, as older versions wrote, read the same).</summary>
    /// <param name="path">The file.</param>
    public static CharVocabulary Load(string path)
    {
        try
        {
            var file = JsonSerializer.Deserialize(File.ReadAllText(path), DataJson.Default.CharVocabularyFile);
            if (file?.Chars is not { Count: > 0 } chars)
                throw new LstmException($"{path}: the vocabulary has no characters");
            var runes = new Rune[chars.Count];
            for (int i = 0; i < chars.Count; i++)
            {
                string? c = chars[i];
                if (c is null || c.Length == 0 || Rune.DecodeFromUtf16(c, out runes[i], out int used) != System.Buffers.OperationStatus.Done || used != c.Length)
                    throw new LstmException($"{path}: vocabulary entry {i} is not one character (one Unicode scalar value)");
            }

            return new CharVocabulary(runes);
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: not a vocabulary file: {e.Message}", e);
        }
    }

    private static string Describe(Rune c) =>
        Rune.IsControl(c) || Rune.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            ? $"U+{c.Value.ToString("X4", CultureInfo.InvariantCulture)}"
            : $"'{c}'";
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
