namespace Lstm.Runtime.Data;

/// <summary>
/// Token pairs for an encoder-decoder trainer, each sample laid out as x [T, 2] with
/// T = max(S, U) the longer of the source's S tokens and the decoder's U = target + 1 steps:
/// column 0 the source ids, column 1 the decoder's input (<see cref="TokenVocabulary.BeginId"/>,
/// then the target ids), both padded with <see cref="TokenVocabulary.PadId"/>; y [Steps] holds
/// the decoder's targets (the target ids, then <see cref="TokenVocabulary.EndId"/>), padded
/// with <see cref="TokenVocabulary.PadId"/>, which a loss must weigh 0.
/// </summary>
/// <remarks>Dimension letters: S source tokens, U decoder steps (target tokens + 1), T = max(S, U).</remarks>
public sealed class PairSequences : IVariableLengthDataset
{
    private readonly int[][] _sources;
    private readonly int[][] _targets;

    /// <summary>Creates the set.</summary>
    /// <param name="sources">Each pair's source ids (≥ 1 token, none the pad id).</param>
    /// <param name="targets">Each pair's target ids (≥ 1 token, none the pad id), without <c>&lt;bos&gt;</c> or <c>&lt;eos&gt;</c>.</param>
    /// <param name="steps">T at least (0: the longest sample's): sets that a trainer reads side by side share one T.</param>
    /// <exception cref="LstmException">The counts differ, or a side is empty or holds the pad id.</exception>
    public PairSequences(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targets, int steps = 0)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(targets);
        if (sources.Count != targets.Count)
            throw new LstmException($"token pairs: {sources.Count} sources and {targets.Count} targets");
        for (int i = 0; i < sources.Count; i++)
        {
            if (sources[i] is not { Length: > 0 } s || targets[i] is not { Length: > 0 } t || s.Contains(TokenVocabulary.PadId) || t.Contains(TokenVocabulary.PadId))
                throw new LstmException($"token pairs: pair {i} has an empty side or a padding token");
            Steps = Math.Max(Steps, LengthOf(s.Length, t.Length));
        }

        Steps = Math.Max(Steps, steps);
        _sources = sources.ToArray();
        _targets = targets.ToArray();
    }

    /// <inheritdoc/>
    public int Count => _sources.Length;

    /// <summary>T: the longest sample's steps, or more where asked.</summary>
    public int Steps { get; }

    /// <summary>2: a source id and a decoder input id per step.</summary>
    public int InputSize => 2;

    /// <summary>T: a decoder target per step.</summary>
    public int TargetLength => Steps;

    /// <summary>Each pair's source ids.</summary>
    public IReadOnlyList<int[]> Sources => _sources;

    /// <summary>Each pair's target ids (without the specials).</summary>
    public IReadOnlyList<int[]> Targets => _targets;

    /// <summary>The same pairs with T at least <paramref name="steps"/>.</summary>
    /// <param name="steps">T at least.</param>
    public PairSequences WithSteps(int steps) => new(_sources, _targets, steps);

    /// <inheritdoc/>
    public int LengthOf(int index)
    {
        Seeds.CheckIndex(index, Count);
        return LengthOf(_sources[index].Length, _targets[index].Length);
    }

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        Seeds.CheckIndex(index, Count);
        var s = _sources[index];
        var t = _targets[index];
        int steps = x.Length / 2;
        if (x.Length % 2 != 0 || steps < LengthOf(s.Length, t.Length) || y.Length != Steps)
            throw new LstmException($"token pairs: sample {index} needs x of at least {2 * LengthOf(s.Length, t.Length)} values and y of {Steps}, got {x.Length} and {y.Length}");
        x.Clear();
        y.Clear();
        for (int k = 0; k < s.Length; k++)
            x[2 * k] = s[k];
        x[1] = TokenVocabulary.BeginId;
        for (int k = 0; k < t.Length; k++)
        {
            x[2 * (k + 1) + 1] = t[k];
            y[k] = t[k];
        }

        y[t.Length] = TokenVocabulary.EndId;
    }

    /// <summary>
    /// Splits a batch x [B, T, 2] (as <see cref="Fill"/> writes it) into the source tokens
    /// [B, S] and the decoder input [B, U] with each row's lengths (the tokens before its padding).
    /// </summary>
    /// <param name="x">[B, T, 2] row-major.</param>
    /// <param name="rows">B.</param>
    public static (float[] Source, int[] SourceLengths, int SourceSteps, float[] Decoder, int[] DecoderLengths, int DecoderSteps) Split(ReadOnlySpan<float> x, int rows)
    {
        if (rows < 1 || x.Length % (2 * rows) != 0)
            throw new LstmException($"token pairs: {x.Length} values are not a batch of {rows} rows of steps of 2");
        int steps = x.Length / (2 * rows);
        var sourceLengths = new int[rows];
        var decoderLengths = new int[rows];
        for (int b = 0; b < rows; b++)
        {
            var row = x.Slice(b * steps * 2, steps * 2);
            while (sourceLengths[b] < steps && row[2 * sourceLengths[b]] != TokenVocabulary.PadId)
                sourceLengths[b]++;
            while (decoderLengths[b] < steps && row[(2 * decoderLengths[b]) + 1] != TokenVocabulary.PadId)
                decoderLengths[b]++;
            if (sourceLengths[b] == 0 || decoderLengths[b] == 0)
                throw new LstmException($"token pairs: batch row {b} has an empty source or decoder input");
        }

        int s = sourceLengths.Max(), u = decoderLengths.Max();
        var source = new float[rows * s];
        var decoder = new float[rows * u];
        for (int b = 0; b < rows; b++)
        {
            for (int k = 0; k < sourceLengths[b]; k++)
                source[(b * s) + k] = x[(b * steps * 2) + (2 * k)];
            for (int k = 0; k < decoderLengths[b]; k++)
                decoder[(b * u) + k] = x[(b * steps * 2) + (2 * k) + 1];
        }

        return (source, sourceLengths, s, decoder, decoderLengths, u);
    }

    private static int LengthOf(int source, int target) => Math.Max(source, target + 1);
}
