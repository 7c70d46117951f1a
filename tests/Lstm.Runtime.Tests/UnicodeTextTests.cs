using System.Text;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Tests;

/// <summary>Text read as Unicode scalar values: astral characters (emoji) and combining marks are characters of the vocabulary, saved and read back whole.</summary>
public sealed class UnicodeTextTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-unicode-").FullName;

    // "é" as e + U+0301 (combining acute), two emoji outside the BMP, a CJK character.
    private const string Text = "cafe\u0301 \U0001F600 na\u0308ive \U0001F680 \u4E2D\n";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Vocabulary_HoldsAstralCharactersAndCombiningMarks_AndRoundTrips()
    {
        var vocab = CharVocabulary.FromText(Text);
        var expected = Text.EnumerateRunes().Distinct().OrderBy(r => r.Value).ToArray();
        Assert.Equal(expected, vocab.Chars);
        Assert.Contains(new Rune(0x1F600), vocab.Chars);
        Assert.Contains(new Rune(0x0301), vocab.Chars);
        Assert.DoesNotContain(vocab.Chars, r => r == Rune.ReplacementChar);

        var ids = vocab.Encode(Text);
        Assert.Equal(Text.EnumerateRunes().Count(), ids.Length);
        Assert.Equal(Text, vocab.Decode(ids));

        string path = Path.Combine(_dir, "vocab.json");
        vocab.Save(path);
        var loaded = CharVocabulary.Load(path);
        Assert.Equal(vocab.Chars, loaded.Chars);
        Assert.Equal(Text, loaded.Decode(loaded.Encode(Text)));
    }

    [Fact]
    public void OldVocabularyFile_OneUtf16UnitPerEntry_LoadsInItsOrder()
    {
        string path = Path.Combine(_dir, "old.json");
        File.WriteAllText(path, "{\"chars\":[\"\\n\",\" \",\"a\",\"b\",\"\\u00e9\"]}");
        var vocab = CharVocabulary.Load(path);
        Assert.Equal("\n ab\u00e9", string.Concat(vocab.Chars));
        Assert.Equal([2, 4, 1, 3], vocab.Encode("a\u00e9 b"));
    }

    [Fact]
    public void VocabularyFile_WithTwoCharactersOrALoneSurrogateInAnEntry_IsRefused()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, "{\"chars\":[\"a\",\"bc\"]}");
        Assert.Contains("entry 1 is not one character", Assert.Throws<LstmException>(() => CharVocabulary.Load(path)).Message, StringComparison.Ordinal);
        // A lone surrogate is no character: the JSON reader already refuses it.
        File.WriteAllText(path, "{\"chars\":[\"a\",\"\\ud83d\"]}");
        Assert.StartsWith(path + ": not a vocabulary file", Assert.Throws<LstmException>(() => CharVocabulary.Load(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_CharacterOutsideTheVocabulary_NamesItsPositionInCharacters()
    {
        var vocab = CharVocabulary.FromText("ab\U0001F600");
        var e = Assert.Throws<LstmException>(() => vocab.Encode("\U0001F600a\U0001F680"));
        Assert.Contains("at position 2", e.Message, StringComparison.Ordinal);
    }
}
