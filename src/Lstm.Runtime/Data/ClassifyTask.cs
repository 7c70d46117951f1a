namespace Lstm.Runtime.Data;

/// <summary>
/// The synthetic <c>classify</c> task: sequences of random length in [<see cref="MinLength"/>,
/// <see cref="MaxLength"/>] of symbols drawn uniformly from an alphabet of
/// <see cref="Symbols"/>, labelled with the symbol that occurs most often (a sequence with a tie
/// for the most is drawn again, so every label is unambiguous). Input: one token id per step;
/// sample i depends only on (seed, i).
/// </summary>
public sealed class ClassifyTask : IVariableLengthDataset
{
    /// <summary>The task's name on the command line.</summary>
    public const string Name = "classify";

    /// <summary>Symbols by default.</summary>
    public const int DefaultSymbols = 4;

    /// <summary>The longest sequence by default.</summary>
    public const int DefaultMaxLength = 24;

    private readonly int[][] _tokens;
    private readonly int[] _labels;

    /// <summary>Draws the samples.</summary>
    /// <param name="count">Samples.</param>
    /// <param name="seed">Seed: sample i is drawn from (seed, i).</param>
    /// <param name="maxLength">The longest sequence (≥ 2).</param>
    /// <param name="symbols">Alphabet size (≥ 2); also the number of classes.</param>
    /// <param name="minLength">The shortest sequence (in [1, maxLength]); default ⌈maxLength / 4⌉.</param>
    public ClassifyTask(int count, int seed, int maxLength = DefaultMaxLength, int symbols = DefaultSymbols, int minLength = 0)
    {
        if (count < 1 || maxLength < 2 || symbols < 2)
            throw new LstmException($"task classify: {count} samples, length {maxLength} and {symbols} symbols (need ≥ 1, ≥ 2 and ≥ 2)");
        if (minLength == 0)
            minLength = (maxLength + 3) / 4;
        if (minLength < 1 || minLength > maxLength)
            throw new LstmException($"task classify: shortest length {minLength} outside [1, {maxLength}]");
        MinLength = minLength;
        MaxLength = maxLength;
        Symbols = symbols;
        _tokens = new int[count][];
        _labels = new int[count];
        var histogram = new int[symbols];
        for (int i = 0; i < count; i++)
        {
            var rng = new Random(Seeds.Mix(seed, i));
            while (true)
            {
                int length = rng.Next(minLength, maxLength + 1);
                var t = new int[length];
                Array.Clear(histogram);
                for (int s = 0; s < length; s++)
                    histogram[t[s] = rng.Next(symbols)]++;
                int best = histogram.Max();
                if (histogram.Count(h => h == best) != 1)
                    continue;
                _tokens[i] = t;
                _labels[i] = Array.IndexOf(histogram, best);
                break;
            }
        }
    }

    /// <summary>The shortest sequence.</summary>
    public int MinLength { get; }

    /// <summary>The longest sequence (T).</summary>
    public int MaxLength { get; }

    /// <summary>The alphabet size and number of classes.</summary>
    public int Symbols { get; }

    /// <inheritdoc/>
    public int Count => _tokens.Length;

    /// <inheritdoc/>
    public int Steps => MaxLength;

    /// <summary>1: a token id per step.</summary>
    public int InputSize => 1;

    /// <summary>1: the class id.</summary>
    public int TargetLength => 1;

    /// <inheritdoc/>
    public int LengthOf(int index)
    {
        Seeds.CheckIndex(index, Count);
        return _tokens[index].Length;
    }

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        var t = _tokens[index];
        if (x.Length < t.Length || y.Length != 1)
            throw new LstmException($"task classify: sample {index} needs x of at least {t.Length} values and y of 1");
        for (int s = 0; s < t.Length; s++)
            x[s] = t[s];
        x[t.Length..].Clear();
        y[0] = _labels[index];
    }

    /// <summary>The samples as labelled sequences (class names "0", "1", ...: the symbol that occurs most).</summary>
    public LabeledSequences ToLabeled() => new(
        _tokens.Select(t => t.Select(v => (double)v).ToArray()).ToArray(), 1, _labels,
        Enumerable.Range(0, Symbols).Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
}
