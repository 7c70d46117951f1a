using System.Globalization;

namespace Lstm.Runtime.Data;

/// <summary>
/// Sequences of any length for a sequence labeller: sample i is a sequence of
/// <see cref="LengthOf"/> steps of <see cref="InputSize"/> values (or one token id per step) and
/// either a class id per step (<see cref="PerStep"/>, per-step cross-entropy) or an unaligned label
/// sequence in [1, C) with class 0 the blank (CTC).
/// </summary>
/// <remarks>
/// Targets as the trainer reads them: per step, [T] class ids (zeros past the length, which the
/// padding mask drops); CTC, [1 + S]: the label count n, then the n labels, then zeros (S the
/// longest label sequence). Dimension letters: T steps (the longest sequence), I values per step.
/// </remarks>
public sealed class LabelledSteps : IVariableLengthDataset
{
    private readonly double[][] _sequences;
    private const string What = "labelled steps";
    private readonly int[][] _targets;

    /// <summary>Creates the set.</summary>
    /// <param name="sequences">Each sequence's steps, row-major [length, I], length ≥ 1.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="targets">Per step: each sequence's class ids, one per step; CTC: each sequence's labels in [1, C).</param>
    /// <param name="classes">The class names in id order (CTC: the blank first).</param>
    /// <param name="perStep">True: a class per step; false: CTC label sequences.</param>
    /// <param name="names">Each sequence's name, or null to number them from 1.</param>
    /// <exception cref="LstmException">The sizes disagree, a sequence is empty, a target is not a class, or a CTC target cannot fit its sequence.</exception>
    public LabelledSteps(IReadOnlyList<double[]> sequences, int inputSize, IReadOnlyList<int[]> targets, IReadOnlyList<string> classes, bool perStep, IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(classes);
        if (inputSize < 1)
            throw new LstmException($"labelled steps: {inputSize} values per step (must be ≥ 1)");
        if (targets.Count != sequences.Count || (names is not null && names.Count != sequences.Count))
            throw new LstmException($"labelled steps: {sequences.Count} sequences, {targets.Count} targets and {names?.Count} names");
        InputSize = inputSize;
        PerStep = perStep;
        Classes = classes.ToArray();
        Names = names?.ToArray() ?? Enumerable.Range(1, sequences.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        _sequences = new double[sequences.Count][];
        _targets = new int[sequences.Count][];
        for (int i = 0; i < sequences.Count; i++)
        {
            var s = sequences[i];
            int length = SequenceInputs.Steps(s, inputSize, What, Names[i]);
            var t = targets[i] ?? throw new LstmException($"labelled steps: sequence {Names[i]} has no target");
            if (perStep && t.Length != length)
                throw new LstmException($"labelled steps: sequence {Names[i]} has {length} steps but {t.Length} labels (one per step)");
            int least = perStep ? 0 : 1;
            if (t.Any(c => c < least || c >= Classes.Count))
                throw new LstmException($"labelled steps: sequence {Names[i]} has a label outside [{least}, {Classes.Count})");
            if (!perStep && CtcSteps(t) > length)
                throw new LstmException($"labelled steps: sequence {Names[i]} has {length} steps, too few for its {t.Length} labels (CTC needs {CtcSteps(t)})");
            _sequences[i] = s;
            _targets[i] = t;
            Steps = Math.Max(Steps, length);
            MaxTargetLength = Math.Max(MaxTargetLength, t.Length);
        }
    }

    /// <inheritdoc/>
    public int Count => _sequences.Length;

    /// <summary>T: the longest sequence's steps.</summary>
    public int Steps { get; }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <summary>True: a class per step; false: CTC label sequences.</summary>
    public bool PerStep { get; }

    /// <summary>S: the longest CTC label sequence (per step: the longest sequence).</summary>
    public int MaxTargetLength { get; }

    /// <summary>Per step T; CTC 1 + S.</summary>
    public int TargetLength => PerStep ? Steps : 1 + MaxTargetLength;

    /// <summary>The class names in id order (CTC: the blank first).</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Each sequence's name.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Each sequence's target: a class per step, or its CTC labels.</summary>
    public IReadOnlyList<int[]> Targets => _targets;

    /// <summary>The fewest steps CTC needs for a label sequence: one per label and a blank between equal neighbours.</summary>
    /// <param name="labels">The labels.</param>
    public static int CtcSteps(ReadOnlySpan<int> labels)
    {
        int n = labels.Length;
        for (int i = 1; i < labels.Length; i++)
            n += labels[i] == labels[i - 1] ? 1 : 0;
        return n;
    }

    /// <inheritdoc/>
    public int LengthOf(int index) => SequenceInputs.LengthOf(_sequences, index, InputSize);

    /// <inheritdoc/>
    public void Fill(int index, Span<double> x, Span<double> y)
    {
        SequenceInputs.FillInput(_sequences, index, x, y, TargetLength, What);
        y.Clear();
        var t = _targets[index];
        var labels = PerStep ? y : y[1..];
        if (!PerStep)
            y[0] = t.Length;
        for (int k = 0; k < t.Length; k++)
            labels[k] = t[k];
    }

    /// <summary>Per step: the steps of each class over every sequence; CTC: the labels of each class.</summary>
    public long[] ClassCounts()
    {
        var counts = new long[Classes.Count];
        foreach (var t in _targets)
        {
            foreach (int c in t)
                counts[c]++;
        }

        return counts;
    }
}
