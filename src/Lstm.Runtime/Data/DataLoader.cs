using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lstm.Runtime.Data;

/// <summary>Where a <see cref="DataLoader"/> stands: the epoch and the number of samples of it already drawn.</summary>
/// <param name="Epoch">Epochs completed.</param>
/// <param name="Offset">Samples of the current epoch already drawn.</param>
public sealed record DataPosition(long Epoch, int Offset)
{
    /// <summary>The position as JSON (<c>{"epoch":…,"offset":…}</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, DataJson.Default.DataPosition);

    /// <summary>A position from <see cref="ToJson"/>'s text.</summary>
    /// <param name="json">The text.</param>
    public static DataPosition FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, DataJson.Default.DataPosition) ?? throw new LstmException("data position: the JSON is null");
        }
        catch (JsonException e)
        {
            throw new LstmException($"data position: {e.Message}", e);
        }
    }
}

/// <summary>One batch: x [B, T, I] batch-first and the targets [B, TargetLength], both row-major.</summary>
/// <param name="X">[B, T, I], T = <see cref="Steps"/>; past a sample's length, zeros.</param>
/// <param name="Y">[B, TargetLength].</param>
/// <param name="Indices">The B sample indices, in batch order.</param>
/// <param name="Lengths">Each sample's steps (variable-length data), or null when every sample has T.</param>
/// <param name="Steps">T of this batch: the dataset's steps, or the longest of its samples (0: the dataset's).</param>
public sealed record Batch(double[] X, double[] Y, int[] Indices, int[]? Lengths = null, int Steps = 0);

/// <summary>
/// Deterministic batching: each epoch visits every sample once in an order drawn from
/// (seed, epoch) (or in index order without shuffling); a batch never spans two epochs and the
/// last incomplete batch of an epoch is dropped. <see cref="Position"/> saves where it stands and
/// <see cref="Restore"/> resumes from there, giving the same batches as an uninterrupted run.
/// </summary>
/// <remarks>
/// Samples of an <see cref="IVariableLengthDataset"/> are batched by length buckets: the epoch's
/// shuffled order (its last incomplete batch dropped) is cut into buckets of
/// <see cref="BucketBatches"/> batches, each bucket sorted by length (ties in shuffled order) and
/// cut into batches, and the order of all the epoch's batches shuffled again; each batch is
/// padded to its own longest sample. The order is still a function of (seed, epoch) alone, so
/// <see cref="Position"/> is all a checkpoint needs to resume exactly.
/// </remarks>
public sealed class DataLoader
{
    /// <summary>Batches per length bucket by default.</summary>
    public const int DefaultBucketBatches = 16;

    private readonly ISequenceDataset _data;
    private readonly IVariableLengthDataset? _variable;
    private int[]? _order;
    private long _orderEpoch = -1;

    /// <summary>Creates the loader at epoch 0.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">B (≤ the number of samples).</param>
    /// <param name="seed">Seeds the order of every epoch.</param>
    /// <param name="shuffle">False visits samples in index order (variable-length samples still by bucket, unshuffled).</param>
    /// <param name="bucketBatches">Variable-length data: batches per length bucket (1: sort within each batch only).</param>
    public DataLoader(ISequenceDataset data, int batchSize, int seed = 0, bool shuffle = true, int bucketBatches = DefaultBucketBatches)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize <= 0 || batchSize > data.Count)
            throw new LstmException($"batch size {batchSize} must lie in [1, {data.Count}] (the number of samples)");
        if (bucketBatches < 1)
            throw new LstmException($"batches per length bucket {bucketBatches} must be at least 1");
        _data = data;
        _variable = data as IVariableLengthDataset;
        BucketBatches = bucketBatches;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        Position = new DataPosition(0, 0);
    }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>The seed of the order.</summary>
    public int Seed { get; }

    /// <summary>Whether epochs are shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Variable-length data: batches per length bucket.</summary>
    public int BucketBatches { get; }

    /// <summary>Full batches per epoch.</summary>
    public int BatchesPerEpoch => _data.Count / BatchSize;

    /// <summary>Where the next batch starts.</summary>
    public DataPosition Position { get; private set; }

    /// <summary>Continues from a saved position.</summary>
    /// <param name="position">From <see cref="Position"/>.</param>
    public void Restore(DataPosition position)
    {
        ArgumentNullException.ThrowIfNull(position);
        if (position.Epoch < 0 || position.Offset < 0 || position.Offset > _data.Count)
            throw new LstmException($"data position (epoch {position.Epoch}, offset {position.Offset}) is outside a dataset of {_data.Count}");
        Position = position;
    }

    /// <summary>The next batch.</summary>
    public Batch Next()
    {
        var (epoch, offset) = (Position.Epoch, Position.Offset);
        if (offset + BatchSize > _data.Count)
        {
            epoch++;
            offset = 0;
        }

        var order = Order(epoch);
        var batch = Load(_data, order.AsSpan(offset, BatchSize));
        Position = new DataPosition(epoch, offset + BatchSize);
        return batch;
    }

    /// <summary>
    /// Samples <paramref name="indices"/> of <paramref name="data"/> as one batch: x [B, T, I]
    /// with T the dataset's steps, or for variable-length data the longest of these samples
    /// (the rest padded with zeros) and their lengths.
    /// </summary>
    /// <param name="data">The samples.</param>
    /// <param name="indices">Which, in batch order.</param>
    /// <exception cref="LstmException">A variable-length sample's length is outside [1, Steps].</exception>
    public static Batch Load(ISequenceDataset data, ReadOnlySpan<int> indices)
    {
        ArgumentNullException.ThrowIfNull(data);
        int[]? lengths = null;
        int steps = data.Steps;
        if (data is IVariableLengthDataset variable)
        {
            lengths = new int[indices.Length];
            steps = 0;
            for (int b = 0; b < indices.Length; b++)
            {
                int length = variable.LengthOf(indices[b]);
                if (length < 1 || length > data.Steps)
                    throw new LstmException($"sample {indices[b]} has {length} steps, outside [1, {data.Steps}]");
                lengths[b] = length;
                steps = Math.Max(steps, length);
            }
        }

        int xLen = steps * data.InputSize;
        int yLen = data.TargetLength;
        var x = new double[indices.Length * xLen];
        var y = new double[indices.Length * yLen];
        for (int b = 0; b < indices.Length; b++)
            data.Fill(indices[b], x.AsSpan(b * xLen, xLen), y.AsSpan(b * yLen, yLen));
        return new Batch(x, y, indices.ToArray(), lengths, steps);
    }

    private int[] Order(long epoch)
    {
        if (_order is not null && _orderEpoch == epoch)
            return _order;
        var order = new int[_data.Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        if (Shuffle)
        {
            var rng = new Random(Seeds.Mix(Seed, epoch));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }

        if (_variable is not null)
            order = Bucketed(order, new Random(Seeds.Mix(Seed ^ 0x5bd1e995, epoch)));
        _order = order;
        _orderEpoch = epoch;
        return order;
    }

    /// <summary>
    /// The epoch's order regrouped by length: the full batches' samples cut into buckets, each
    /// sorted by length (stable), then the batches shuffled (with shuffling on); the dropped
    /// remainder stays at the end.
    /// </summary>
    private int[] Bucketed(int[] order, Random rng)
    {
        int batches = order.Length / BatchSize;
        int used = batches * BatchSize;
        int bucket = BucketBatches * BatchSize;
        var keys = new long[used];
        for (int p = 0; p < used; p++)
            keys[p] = ((long)_variable!.LengthOf(order[p]) << 32) | (uint)p;
        for (int start = 0; start < used; start += bucket)
        {
            int count = Math.Min(bucket, used - start);
            Array.Sort(keys, order, start, count);
        }

        var batchOrder = new int[batches];
        for (int j = 0; j < batches; j++)
            batchOrder[j] = j;
        if (Shuffle)
        {
            for (int j = batches - 1; j > 0; j--)
            {
                int k = rng.Next(j + 1);
                (batchOrder[j], batchOrder[k]) = (batchOrder[k], batchOrder[j]);
            }
        }

        var result = new int[order.Length];
        for (int j = 0; j < batches; j++)
            Array.Copy(order, batchOrder[j] * BatchSize, result, j * BatchSize, BatchSize);
        Array.Copy(order, used, result, used, order.Length - used);
        return result;
    }
}

/// <summary>Source-generated JSON for the data files (positions, statistics, vocabularies).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(DataPosition))]
[JsonSerializable(typeof(ZScoreStatistics))]
[JsonSerializable(typeof(CharVocabularyFile))]
[JsonSerializable(typeof(ClassifierData))]
internal sealed partial class DataJson : JsonSerializerContext
{
}
