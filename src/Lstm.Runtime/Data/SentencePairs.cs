using System.Globalization;
using System.Text;

namespace Lstm.Runtime.Data;

/// <summary>A source text and its target text, with the file line it came from (0 for a synthetic task's).</summary>
/// <param name="Source">The source text.</param>
/// <param name="Target">The target text (null where only sources are read).</param>
/// <param name="Line">The 1-based line of the file, or 0.</param>
public sealed record TextPair(string Source, string? Target, int Line);

/// <summary>
/// Pairs files (UTF-8, one <c>source&lt;TAB&gt;target</c> per line, blank lines skipped) and the
/// synthetic pair tasks: <c>reverse</c> (a random string over a small alphabet and the string
/// reversed) and <c>dates</c> (a date written out in words and the same date as yyyy-mm-dd).
/// </summary>
public static class SentencePairs
{
    /// <summary>The string-reversal task's name.</summary>
    public const string Reverse = "reverse";

    /// <summary>The date-reformatting task's name.</summary>
    public const string Dates = "dates";

    /// <summary>The reversal task's alphabet.</summary>
    public const string ReverseAlphabet = "abcdefghij";

    /// <summary>The longest string of the reversal task by default.</summary>
    public const int DefaultReverseLength = 12;

    private static readonly string[] Months =
        ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

    /// <summary>Whether <paramref name="task"/> names a pair task.</summary>
    /// <param name="task">A task name.</param>
    public static bool IsTask(string? task) => task is Reverse or Dates;

    /// <summary>
    /// Reads a pairs file: every non-blank line must be one source and one target separated by a
    /// single tab, neither empty (nor only spaces).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">The file is missing or not UTF-8, holds no pair, or a line is not a pair (the message names the file and line).</exception>
    public static List<TextPair> Read(string path) => ReadLines(path, pairs: true);

    /// <summary>Reads sources, one a line (blank lines skipped), for translation.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">The file is missing, not UTF-8 or holds no line.</exception>
    public static List<TextPair> ReadSources(string path) => ReadLines(path, pairs: false);

    /// <summary>
    /// A task's pairs: pair i depends on (seed, i) alone. <c>reverse</c>: strings of 1 to
    /// <paramref name="maxLength"/> letters of <see cref="ReverseAlphabet"/>; <c>dates</c>: dates of
    /// 1900 to 2099 as "3 march 2021", "march 3, 2021" or "3/3/2021" (day first), target "2021-03-03".
    /// </summary>
    /// <param name="task"><c>reverse</c> or <c>dates</c>.</param>
    /// <param name="count">Pairs (≥ 1).</param>
    /// <param name="seed">The seed.</param>
    /// <param name="maxLength">The reversal task's longest string (≥ 1).</param>
    public static List<TextPair> Task(string task, int count, int seed, int maxLength = DefaultReverseLength)
    {
        if (!IsTask(task))
            throw new LstmException($"--task {task}: the encoder-decoder tasks are {Reverse} and {Dates}");
        if (count < 1 || maxLength < 1)
            throw new LstmException($"task {task}: {count} pairs of length up to {maxLength} (need ≥ 1 and ≥ 1)");
        var pairs = new List<TextPair>(count);
        for (int i = 0; i < count; i++)
        {
            var rng = new Random(Seeds.Mix(seed, i));
            pairs.Add(task == Reverse ? ReversePair(rng, maxLength) : DatePair(rng));
        }

        return pairs;
    }

    private static TextPair ReversePair(Random rng, int maxLength)
    {
        int length = rng.Next(1, maxLength + 1);
        var chars = new char[length];
        for (int k = 0; k < length; k++)
            chars[k] = ReverseAlphabet[rng.Next(ReverseAlphabet.Length)];
        string source = new(chars);
        Array.Reverse(chars);
        return new TextPair(source, new string(chars), 0);
    }

    private static TextPair DatePair(Random rng)
    {
        var first = new DateOnly(1900, 1, 1);
        var date = first.AddDays(rng.Next(new DateOnly(2099, 12, 31).DayNumber - first.DayNumber + 1));
        string month = Months[date.Month - 1];
        string source = rng.Next(3) switch
        {
            0 => $"{date.Day} {month} {date.Year}",
            1 => $"{month} {date.Day}, {date.Year}",
            _ => $"{date.Day}/{date.Month}/{date.Year}",
        };
        return new TextPair(source, date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), 0);
    }

    private static List<TextPair> ReadLines(string path, bool pairs)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file");
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (DecoderFallbackException e)
        {
            throw new LstmException($"{path}: not UTF-8 text ({e.Message})", e);
        }

        var result = new List<TextPair>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int number = i + 1;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            if (!pairs)
            {
                result.Add(new TextPair(line, null, number));
                continue;
            }

            int tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab < 0)
                throw new LstmException($"{path} line {number}: no tab; each line is a source, a tab and its target");
            int tabs = line.Count(c => c == '\t');
            if (tabs > 1)
                throw new LstmException($"{path} line {number}: {tabs} tabs; each line is one source, one tab and its target (neither may hold a tab)");
            string source = line[..tab], target = line[(tab + 1)..];
            if (string.IsNullOrWhiteSpace(source))
                throw new LstmException($"{path} line {number}: the source (before the tab) is empty");
            if (string.IsNullOrWhiteSpace(target))
                throw new LstmException($"{path} line {number}: the target (after the tab) is empty");
            result.Add(new TextPair(source, target, number));
        }

        if (result.Count == 0)
            throw new LstmException($"{path}: no {(pairs ? "pairs (source<TAB>target lines)" : "lines to translate")}");
        return result;
    }
}
