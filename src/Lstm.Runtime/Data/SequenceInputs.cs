namespace Lstm.Runtime.Data;

/// <summary>
/// The inputs of labelled variable-length samples (<see cref="LabeledSequences"/>,
/// <see cref="LabelledSteps"/>), kept as each sequence's steps row-major [length, I]: the rules
/// of one sequence, its length, and a sample's input padded with zeros, written once for both.
/// </summary>
internal static class SequenceInputs
{
    /// <summary>A sequence's steps; throws unless it holds a whole number ≥ 1 of steps.</summary>
    /// <param name="s">The sequence's values.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="what">The set, for messages.</param>
    /// <param name="name">The sequence's name, for messages.</param>
    public static int Steps(double[]? s, int inputSize, string what, string name)
    {
        if (s is null || s.Length == 0 || s.Length % inputSize != 0)
            throw new LstmException($"{what}: sequence {name} has {s?.Length ?? 0} values, not a whole number ≥ 1 of steps of {inputSize}");
        return s.Length / inputSize;
    }

    /// <summary>Sample <paramref name="index"/>'s steps.</summary>
    /// <param name="sequences">The sequences.</param>
    /// <param name="index">The sample.</param>
    /// <param name="inputSize">I.</param>
    public static int LengthOf(double[][] sequences, int index, int inputSize)
    {
        Seeds.CheckIndex(index, sequences.Length);
        return sequences[index].Length / inputSize;
    }

    /// <summary>Copies sample <paramref name="index"/>'s steps into <paramref name="x"/>, zeros past them, after checking both spans' sizes; the caller writes <paramref name="y"/>.</summary>
    /// <param name="sequences">The sequences.</param>
    /// <param name="index">The sample.</param>
    /// <param name="x">Out: at least the sequence's values.</param>
    /// <param name="y">The target, of <paramref name="targetLength"/> values.</param>
    /// <param name="targetLength">The set's target length.</param>
    /// <param name="what">The set, for messages.</param>
    public static void FillInput(double[][] sequences, int index, Span<double> x, Span<double> y, int targetLength, string what)
    {
        Seeds.CheckIndex(index, sequences.Length);
        var s = sequences[index];
        if (x.Length < s.Length || y.Length != targetLength)
            throw new LstmException($"{what}: sample {index} needs x of at least {s.Length} values and y of {targetLength}, got {x.Length} and {y.Length}");
        s.CopyTo(x);
        x[s.Length..].Clear();
    }
}
