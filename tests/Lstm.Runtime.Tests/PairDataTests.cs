using Lstm.Runtime.Data;

namespace Lstm.Runtime.Tests;

/// <summary>Pairs files (every bad line named by file and line), the pair tasks, the vocabularies with their specials and the pair dataset's layout.</summary>
public sealed class PairDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-pairs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string text)
    {
        string path = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Read_SkipsBlankLines_AndKeepsLineNumbers()
    {
        var pairs = SentencePairs.Read(Write("one\t1\n\n  \ntwo words\tdeux mots\r\nthree\t3"));
        Assert.Equal(3, pairs.Count);
        Assert.Equal(new TextPair("two words", "deux mots", 4), pairs[1]);
        Assert.Equal(5, pairs[2].Line);
    }

    [Theory]
    [InlineData("a\tb\nno tab here\n", "line 2: no tab")]
    [InlineData("a\tb\nc\td\te\n", "line 2: 2 tabs")]
    [InlineData("\tb\n", "line 1: the source (before the tab) is empty")]
    [InlineData("a\tb\n\na\t  \n", "line 3: the target (after the tab) is empty")]
    [InlineData("\n\n", "no pairs")]
    public void Read_RefusesABadLine_NamingFileAndLine(string text, string expected)
    {
        string path = Write(text);
        var e = Assert.Throws<LstmException>(() => SentencePairs.Read(path));
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_RefusesMissingAndNonUtf8Files()
    {
        Assert.Contains("no such file", Assert.Throws<LstmException>(() => SentencePairs.Read(Path.Combine(_dir, "none.tsv"))).Message, StringComparison.Ordinal);
        string path = Path.Combine(_dir, "latin1.tsv");
        File.WriteAllBytes(path, [0x63, 0x61, 0x66, 0xE9, 0x09, 0x78, 0x0A]);
        Assert.Contains("not UTF-8", Assert.Throws<LstmException>(() => SentencePairs.Read(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tasks_AreDeterministic_AndHoldWhatTheySay()
    {
        var reverse = SentencePairs.Task("reverse", 300, 5, 7);
        Assert.Equal(reverse, SentencePairs.Task("reverse", 300, 5, 7));
        Assert.NotEqual(reverse, SentencePairs.Task("reverse", 300, 6, 7));
        Assert.All(reverse, p => Assert.Equal(new string(p.Source.Reverse().ToArray()), p.Target));
        Assert.Equal(1, reverse.Min(p => p.Source.Length));
        Assert.Equal(7, reverse.Max(p => p.Source.Length));
        Assert.All(reverse, p => Assert.True(p.Source.All(c => SentencePairs.ReverseAlphabet.Contains(c))));
        var dates = SentencePairs.Task("dates", 200, 1);
        Assert.All(dates, p =>
        {
            var date = DateOnly.ParseExact(p.Target!, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(date.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Source, StringComparison.Ordinal);
        });
        Assert.Contains(dates, p => p.Source.Contains('/', StringComparison.Ordinal));
        Assert.Contains(dates, p => p.Source.Contains(',', StringComparison.Ordinal));
        Assert.Throws<LstmException>(() => SentencePairs.Task("sort", 10, 1));
    }

    [Fact]
    public void Vocabulary_PutsTheSpecialsFirst_CapsBySize_AndMapsTheRestToUnknown()
    {
        var v = TokenVocabulary.Fit(["aab", "abc", "a"], "char", 6);
        Assert.Equal(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"], v.Tokens);
        Assert.Equal([4, 5, TokenVocabulary.UnknownId, TokenVocabulary.UnknownId], v.Encode("abcz"));
        Assert.Equal("ab<unk>", v.Decode([4, 5, 1, 3, 0]));
        var words = TokenVocabulary.Fit(["The cat sat.", "the dog"], "word", 100);
        Assert.Equal("the cat <unk>", words.Decode(words.Encode("THE cat, flew")));
        Assert.Throws<LstmException>(() => TokenVocabulary.Fit(["a"], "char", 4));
        Assert.Throws<LstmException>(() => TokenVocabulary.Fit(["a"], "byte", 10));
    }

    [Fact]
    public void Encode_ChecksEachSide_NamingTheLine()
    {
        var train = new List<TextPair> { new("abc", "xy", 1), new("b", "yyy", 2) };
        var data = PairData.Fit(train, "char", 100, null);
        Assert.Equal(3, data.MaxSourceTokens);
        Assert.Equal(3, data.MaxTargetTokens);
        var e = Assert.Throws<LstmException>(() => data.Encode([new("abcabc", "x", 7)], "f.tsv", 5));
        Assert.Equal("f.tsv line 7: the source has 6 characters, more than --max-length 5", e.Message);
        var words = PairData.Fit([new("a b", "c", 1)], "word", 100, null);
        Assert.Contains("f.tsv line 3: the target has no words", Assert.Throws<LstmException>(() => words.Encode([new("a", "...", 3)], "f.tsv", 5)).Message, StringComparison.Ordinal);
        string path = Path.Combine(_dir, PairData.FileName);
        File.WriteAllText(path, data.ToJson());
        Assert.Equal(data.TargetVocabulary, PairData.Load(path).TargetVocabulary);
    }

    [Fact]
    public void PairSequences_LayOutSourceAndDecoderSideBySide_AndSplitBack()
    {
        var set = new PairSequences([[5, 6, 7], [8]], [[4], [9, 10, 11]]);
        Assert.Equal(4, set.Steps);
        Assert.Equal(3, set.LengthOf(0));
        Assert.Equal(4, set.LengthOf(1));
        var x = new double[2 * 4 * 2];
        var y = new double[2 * 4];
        set.Fill(0, x.AsSpan(0, 8), y.AsSpan(0, 4));
        set.Fill(1, x.AsSpan(8, 8), y.AsSpan(4, 4));
        Assert.Equal([5, 2, 6, 4, 7, 0, 0, 0, 8, 2, 0, 9, 0, 10, 0, 11], x);
        Assert.Equal([4, 3, 0, 0, 9, 10, 11, 3], y);
        var (source, sourceLengths, s, decoder, decoderLengths, u) = PairSequences.Split(x.Select(v => (float)v).ToArray(), 2);
        Assert.Equal(3, s);
        Assert.Equal(4, u);
        Assert.Equal([3, 1], sourceLengths);
        Assert.Equal([2, 4], decoderLengths);
        Assert.Equal([5f, 6, 7, 8, 0, 0], source);
        Assert.Equal([2f, 4, 0, 0, 2, 9, 10, 11], decoder);
        Assert.Equal(6, set.WithSteps(6).TargetLength);
        Assert.Equal(4, set.WithSteps(2).Steps);
        Assert.Throws<LstmException>(() => new PairSequences([[1, 0]], [[4]]));
    }
}
