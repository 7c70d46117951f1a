namespace Lstm.Runtime.Data;

/// <summary>
/// Labelled sequences of any length for classification: sample i is a sequence of
/// <see cref="LengthOf"/> steps of <see cref="ISequenceDataset.InputSize"/> values (or one token
/// id per step) and one class id as its target.
/// </summary>
/// <remarks>Dimension letters: T steps (the longest sequence), I values per step.</remarks>
public sealed class LabeledSequences : IVariableLengthDataset
{
    private const string What = "labelled sequences";
    private readonly double[][] _sequences;
    private readonly int[] _labels;

    /// <summary>Creates the set.</summary>
    /// <param name="sequences">Each sequence's steps, row-major [length, I], length ≥ 1.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="labels">Each sequence's class id in [0, classes).</param>
    /// <param name="classes">The class names, in id order.</param>
    /// <param name="names">Each sequence's name (its id or row), for predictions; null numbers them from 1.</param>
    /// <exception cref="LstmException">The sizes disagree, a sequence is empty or a label is not a class.</exception>
    public LabeledSequences(IReadOnlyList<double[]> sequences, int inputSize, IReadOnlyList<int> labels, IReadOnlyList<string> classes, IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classes);
        if (inputSize < 1)
            throw new LstmException($"labelled sequences: {inputSize} values per step (must be ≥ 1)");
        if (labels.Count != sequences.Count || (names is not null && names.Count != sequences.Count))
            throw new LstmException($"labelled sequences: {sequences.Count} sequences, {labels.Count} labels and {names?.Count} names");
        _sequences = new double[sequences.Count][];
        _labels = new int[labels.Count];
        for (int i = 0; i < sequences.Count; i++)
        {
            var s = sequences[i];
            int length = SequenceInputs.Steps(s, inputSize, What, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if ((uint)labels[i] >= (uint)classes.Count)
                throw new LstmException($"labelled sequences: sequence {i} has label {labels[i]}, not one of {classes.Count} classes");
            _sequences[i] = s;
            _labels[i] = labels[i];
            Steps = Math.Max(Steps, length);
        }

        InputSize = inputSize;
        Classes = classes.ToArray();
        Names = names?.ToArray() ?? Enumerable.Range(1, sequences.Count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <inheritdoc/>
    public int Count => _sequences.Length;

    /// <summary>T: the longest sequence's steps (0 when empty).</summary>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <summary>1: the class id.</summary>
    public int TargetLength => 1;

    /// <summary>The class names, in id order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Each sequence's name (an id, or a row of a file).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Each sequence's class id.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <inheritdoc/>
    public int LengthOf(int index) => SequenceInputs.LengthOf(_sequences, index, InputSize);

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        SequenceInputs.FillInput(_sequences, index, x, y, TargetLength, What);
        y[0] = _labels[index];
    }

    /// <summary>Sequences per class, in id order.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[Classes.Count];
        foreach (int l in _labels)
            counts[l]++;
        return counts;
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order.</summary>
    /// <param name="indices">Sample indices.</param>
    public LabeledSequences Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return new LabeledSequences(
            indices.Select(i => _sequences[i]).ToArray(), InputSize, indices.Select(i => _labels[i]).ToArray(), Classes, indices.Select(i => Names[i]).ToArray());
    }

    /// <summary>
    /// A seeded split: the samples in an order drawn from <paramref name="seed"/>, the last
    /// ⌈fraction·N⌉ of them (at least one) validating, the rest (at least one) training.
    /// </summary>
    /// <param name="validationFraction">In (0, 1).</param>
    /// <param name="seed">Seeds the order.</param>
    /// <exception cref="LstmException">Too few samples to give each side one.</exception>
    public (LabeledSequences Train, LabeledSequences Validation) Split(double validationFraction, int seed)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new LstmException($"--val-fraction {validationFraction}: must lie in (0, 1)");
        int validation = Math.Max(1, (int)Math.Ceiling(validationFraction * Count));
        if (Count - validation < 1)
            throw new LstmException($"{Count} sequences are too few to split into training and validation (--val-fraction {validationFraction})");
        var order = Enumerable.Range(0, Count).ToArray();
        var rng = new Random(Seeds.Mix(seed, 0x5E9));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return (Subset(order[..^validation]), Subset(order[^validation..]));
    }
}
