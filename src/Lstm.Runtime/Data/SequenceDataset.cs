namespace Lstm.Runtime.Data;

/// <summary>
/// A fixed, indexable set of samples for a sequence model: sample i is an input x [T, I]
/// (row-major, batch-first once batched) and a target of <see cref="TargetLength"/> values
/// (e.g. O forecast values, or T class indices for a language model). Filling sample i always
/// gives the same values, so batches depend only on the order drawn.
/// </summary>
/// <remarks>Dimension letters: T steps, I input features per step.</remarks>
public interface ISequenceDataset
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>T.</summary>
    int Steps { get; }

    /// <summary>I: values per step of x.</summary>
    int InputSize { get; }

    /// <summary>Values of one sample's target.</summary>
    int TargetLength { get; }

    /// <summary>Writes sample <paramref name="index"/>.</summary>
    /// <param name="index">0 ≤ index &lt; <see cref="Count"/>.</param>
    /// <param name="x">[T, I] out.</param>
    /// <param name="y">[<see cref="TargetLength"/>] out.</param>
    void Fill(int index, Span<double> x, Span<double> y);
}

/// <summary>Seeds derived from a base seed and an index, so sample i of a synthetic task is the same whatever order samples are drawn in.</summary>
internal static class Seeds
{
    /// <summary>A well-mixed 31-bit seed for (seed, index) (SplitMix64's finalizer).</summary>
    public static int Mix(int seed, long index)
    {
        unchecked
        {
            ulong z = ((ulong)(uint)seed << 32) ^ (ulong)index;
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z & 0x7FFFFFFF);
        }
    }

    /// <summary>Checks a sample index.</summary>
    public static void CheckIndex(int index, int count)
    {
        if ((uint)index >= (uint)count)
            throw new LstmException($"sample {index} is outside a dataset of {count}");
    }
}

/// <summary>
/// Samples of any length: sample i has <see cref="LengthOf"/> steps in [1, <see cref="ISequenceDataset.Steps"/>]
/// (Steps is the longest). <see cref="ISequenceDataset.Fill"/> takes x as [T', I] for any T' at
/// least the sample's length and writes its steps, then zeros. A <see cref="DataLoader"/> batches
/// such samples by length (<see cref="Batch.Lengths"/>, each batch padded to its own longest),
/// and the layers run them with PyTorch's packed-sequence semantics.
/// </summary>
public interface IVariableLengthDataset : ISequenceDataset
{
    /// <summary>The steps of sample <paramref name="index"/>, in [1, <see cref="ISequenceDataset.Steps"/>].</summary>
    /// <param name="index">0 ≤ index &lt; <see cref="ISequenceDataset.Count"/>.</param>
    int LengthOf(int index);
}
