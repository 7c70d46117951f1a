using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// Where decoding stands for N rows (hypotheses) of a <see cref="Seq2SeqModel{T}"/>: each row's
/// encoder outputs, their projected keys and source length, the decoder's recurrent state, and
/// the last step's attention weights. <see cref="Seq2SeqModel{T}.Step"/> advances it;
/// <see cref="Select"/> makes a state of chosen rows (beam expansion and reordering).
/// </summary>
/// <remarks>Dimension letters: N rows, S source steps, K encoder output width, H hidden size, L layers.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Seq2SeqState<T> : IDisposable where T : unmanaged
{
    private readonly int _keyWidth;
    private readonly int[] _sourceLengths;
    private bool _disposed;

    internal Seq2SeqState(int keyWidth, Tensor<T> encoderOutput, Tensor<T> keys, int[] sourceLengths, Tensor<T> lengths, RecurrentState<T> recurrent, Tensor<T>? attention)
    {
        _keyWidth = keyWidth;
        EncoderOutput = encoderOutput;
        Keys = keys;
        _sourceLengths = sourceLengths;
        Lengths = lengths;
        Recurrent = recurrent;
        LastAttention = attention;
    }

    /// <summary>N.</summary>
    public int Rows => _sourceLengths.Length;

    /// <summary>S: the source steps (the encoded batch's longest).</summary>
    public int SourceSteps => EncoderOutput.Shape[1];

    /// <summary>Each row's source length.</summary>
    public IReadOnlyList<int> SourceLengths => _sourceLengths;

    /// <summary>The last step's attention weights [N, S] (zeros past each source length), or null before the first step.</summary>
    public Tensor<T>? LastAttention { get; private set; }

    /// <summary>[N, S, K].</summary>
    internal Tensor<T> EncoderOutput { get; }

    /// <summary>[N, S, H] the projected keys.</summary>
    internal Tensor<T> Keys { get; }

    /// <summary>[N] the source lengths as values of T.</summary>
    internal Tensor<T> Lengths { get; }

    /// <summary>The decoder's h (and c) [L, N, H].</summary>
    internal RecurrentState<T> Recurrent { get; private set; }

    /// <summary>A new state whose row i is this state's row rows[i] (rows may repeat); this state is unchanged.</summary>
    /// <param name="rows">Rows of this state, each in [0, N).</param>
    /// <returns>A state of rows.Length rows; dispose it.</returns>
    /// <exception cref="LstmException">No rows, or a row out of range.</exception>
    public Seq2SeqState<T> Select(ReadOnlySpan<int> rows)
    {
        CheckUsable(_keyWidth);
        if (rows.Length == 0)
            throw new LstmException("seq2seq state: select needs at least one row");
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i] < 0 || rows[i] >= Rows)
                throw new LstmException($"seq2seq state: row {rows[i]} (position {i}) is not a row of a state of {Rows}");
        }

        var device = EncoderOutput.Device;
        var lengths = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            lengths[i] = _sourceLengths[rows[i]];
        var made = new List<IDisposable>();
        try
        {
            var output = Gathered(EncoderOutput, rows, made);
            var keys = Gathered(Keys, rows, made);
            var lengthValues = Gathered(Lengths, rows, made);
            var h = GatheredLayers(Recurrent.H, rows, made);
            var c = Recurrent.C is { } c0 ? GatheredLayers(c0, rows, made) : null;
            var attention = LastAttention is { } a ? Gathered(a, rows, made) : null;
            var state = new Seq2SeqState<T>(_keyWidth, output, keys, lengths, lengthValues, new RecurrentState<T>(h, c), attention);
            made.Clear();
            return state;
        }
        finally
        {
            foreach (var t in made)
                t.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        EncoderOutput.Dispose();
        Keys.Dispose();
        Lengths.Dispose();
        Recurrent.Dispose();
        LastAttention?.Dispose();
    }

    /// <summary>Throws if the state was disposed or belongs to a model of another encoder width.</summary>
    internal void CheckUsable(int keyWidth)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (keyWidth != _keyWidth)
            throw new LstmException($"seq2seq state: encoder outputs of {_keyWidth} features, but the model's have {keyWidth}");
    }

    /// <summary>Replaces the recurrent state and the attention weights after a step (taking ownership).</summary>
    internal void Advance(RecurrentState<T> next, Tensor<T> attention)
    {
        Recurrent.Dispose();
        Recurrent = next;
        LastAttention?.Dispose();
        LastAttention = attention;
    }

    /// <summary>The rows of a tensor whose first axis is N (each row all the following axes).</summary>
    private static Tensor<T> Gathered(Tensor<T> source, ReadOnlySpan<int> rows, List<IDisposable> made)
    {
        int n = source.Shape[0];
        int cols = (int)(source.Length / Math.Max(n, 1));
        var shape = source.Shape.ToArray();
        shape[0] = rows.Length;
        var result = Tensor<T>.Zeros(source.Device, shape);
        made.Add(result);
        source.Ops.GatherRows(cols, rows, source.Data, result.Data);
        return result;
    }

    /// <summary>The rows of a state [L, N, H]: layer by layer.</summary>
    private static Tensor<T> GatheredLayers(Tensor<T> source, ReadOnlySpan<int> rows, List<IDisposable> made)
    {
        int layers = source.Shape[0], n = source.Shape[1], h = source.Shape[2];
        var result = Tensor<T>.Zeros(source.Device, layers, rows.Length, h);
        made.Add(result);
        for (int l = 0; l < layers; l++)
            source.Ops.GatherRows(h, rows, source.Data.Slice((long)l * n * h, (long)n * h), result.Data.Slice((long)l * rows.Length * h, (long)rows.Length * h));
        return result;
    }
}
