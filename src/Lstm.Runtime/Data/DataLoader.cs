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
/// <param name="X">[B, T, I].</param>
/// <param name="Y">[B, TargetLength].</param>
/// <param name="Indices">The B sample indices, in batch order.</param>
public sealed record Batch(double[] X, double[] Y, int[] Indices);

/// <summary>
/// Deterministic batching: each epoch visits every sample once in an order drawn from
/// (seed, epoch) (or in index order without shuffling); a batch never spans two epochs and the
/// last incomplete batch of an epoch is dropped. <see cref="Position"/> saves where it stands and
/// <see cref="Restore"/> resumes from there, giving the same batches as an uninterrupted run.
/// </summary>
public sealed class DataLoader
{
    private readonly ISequenceDataset _data;
    private int[]? _order;
    private long _orderEpoch = -1;

    /// <summary>Creates the loader at epoch 0.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">B (≤ the number of samples).</param>
    /// <param name="seed">Seeds the order of every epoch.</param>
    /// <param name="shuffle">False visits samples in index order.</param>
    public DataLoader(ISequenceDataset data, int batchSize, int seed = 0, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize <= 0 || batchSize > data.Count)
            throw new LstmException($"batch size {batchSize} must lie in [1, {data.Count}] (the number of samples)");
        _data = data;
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
        int steps = _data.Steps;
        int xLen = steps * _data.InputSize;
        int yLen = _data.TargetLength;
        var x = new double[BatchSize * xLen];
        var y = new double[BatchSize * yLen];
        var indices = new int[BatchSize];
        for (int b = 0; b < BatchSize; b++)
        {
            int i = order[offset + b];
            indices[b] = i;
            _data.Fill(i, x.AsSpan(b * xLen, xLen), y.AsSpan(b * yLen, yLen));
        }

        Position = new DataPosition(epoch, offset + BatchSize);
        return new Batch(x, y, indices);
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

        _order = order;
        _orderEpoch = epoch;
        return order;
    }
}

/// <summary>Source-generated JSON for the data files (positions, statistics, vocabularies).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(DataPosition))]
[JsonSerializable(typeof(ZScoreStatistics))]
[JsonSerializable(typeof(CharVocabularyFile))]
internal sealed partial class DataJson : JsonSerializerContext
{
}
