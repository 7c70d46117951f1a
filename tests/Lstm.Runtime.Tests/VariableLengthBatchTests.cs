using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Length-bucketed batches: every epoch visits each sample once, buckets are sorted by length,
/// the order depends only on (seed, epoch), and a trainer resumed from a checkpoint continues
/// bit for bit.
/// </summary>
public class VariableLengthBatchTests
{
    [Fact]
    public void Buckets_VisitEverySampleOnce_SortedWithinBuckets_SameForTheSameSeed()
    {
        var data = new ClassifyTask(203, seed: 5, maxLength: 30);
        const int B = 8, Buckets = 4;
        var loader = new DataLoader(data, B, seed: 3, bucketBatches: Buckets);
        var again = new DataLoader(data, B, seed: 3, bucketBatches: Buckets);
        var other = new DataLoader(data, B, seed: 4, bucketBatches: Buckets);
        int perEpoch = loader.BatchesPerEpoch;
        Assert.Equal(203 / B, perEpoch);
        bool differs = false;
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = new HashSet<int>();
            var batches = new List<Batch>();
            for (int j = 0; j < perEpoch; j++)
            {
                var batch = loader.Next();
                var twin = again.Next();
                differs |= !batch.Indices.SequenceEqual(other.Next().Indices);
                Assert.Equal(twin.Indices, batch.Indices);
                Assert.Equal(twin.X, batch.X);
                Assert.NotNull(batch.Lengths);
                Assert.Equal(batch.Lengths!.Max(), batch.Steps);
                Assert.Equal(batch.Indices.Select(data.LengthOf), batch.Lengths);
                Assert.True(batch.Lengths.Zip(batch.Lengths.Skip(1)).All(p => p.First <= p.Second), "a batch is sorted by length");
                foreach (int i in batch.Indices)
                    Assert.True(seen.Add(i), $"sample {i} twice in epoch {epoch}");

                // Padding past each length is zero.
                for (int b = 0; b < B; b++)
                {
                    for (int t = batch.Lengths[b]; t < batch.Steps; t++)
                        Assert.Equal(0, batch.X[b * batch.Steps + t]);
                }

                batches.Add(batch);
            }

            Assert.Equal(perEpoch * B, seen.Count);

            // Padding per batch is far less than padding every batch to the longest sample.
            long padded = batches.Sum(b => (long)b.Steps * B), tokens = batches.Sum(b => (long)b.Lengths!.Sum());
            Assert.True(padded - tokens < (long)data.Steps * perEpoch * B - tokens, "bucketing leaves less padding than one length for all");
        }

        Assert.True(differs, "another seed gives another order");
    }

    [Fact]
    public void Restore_ContinuesWithTheSameBatches()
    {
        var data = new ClassifyTask(100, seed: 6);
        var loader = new DataLoader(data, 7, seed: 1);
        for (int i = 0; i < 17; i++)
            loader.Next();
        var position = DataPosition.FromJson(loader.Position.ToJson());
        var resumed = new DataLoader(data, 7, seed: 1);
        resumed.Restore(position);
        for (int i = 0; i < 30; i++)
            Assert.Equal(loader.Next().Indices, resumed.Next().Indices);
    }

    [Fact]
    public void Trainer_ResumedFromACheckpoint_EndsWithTheSameWeightsBitForBit()
    {
        var dev = TestDevices.Get("cpu");
        var train = new ClassifyTask(300, seed: 1, maxLength: 16);
        var valid = new ClassifyTask(50, seed: 2, maxLength: 16);
        var config = ModelConfig.SequenceClassifier(CellKind.Lstm, 4, 8, PoolKind.Max, vocabSize: 4, embeddingDim: 3, numLayers: 2, dropout: 0.2);
        string dir = Path.Combine(Path.GetTempPath(), "lstm-varlen-" + Guid.NewGuid().ToString("N"));
        try
        {
            TrainerOptions Options() => new()
            {
                Steps = 60, BatchSize = 16, LearningRate = 5e-3, Loss = LossKind.CrossEntropy, Seed = 9, ValidateEvery = 20,
                ClassWeights = [1, 2, 0.5, 1],
            };
            float[][] Weights(SequenceClassifier<float> m) => m.NamedParameters().Select(p => p.Parameter.Value.ToArray()).ToArray();

            using var straight = new SequenceClassifier<float>(dev, config, seed: 3);
            using (var t = new Trainer<float>(straight, train, valid, Options()))
                t.Run();

            using var first = new SequenceClassifier<float>(dev, config, seed: 3);
            using (var t = new Trainer<float>(first, train, valid, Options()))
            {
                t.Run(untilStep: 25);
                t.SaveCheckpoint(dir);
            }

            using var second = new SequenceClassifier<float>(dev, config, seed: 77);
            using (var t = new Trainer<float>(second, train, valid, Options()))
            {
                t.Resume(dir);
                Assert.Equal(25, t.Step);
                t.Run();
            }

            var expected = Weights(straight);
            var actual = Weights(second);
            for (int i = 0; i < expected.Length; i++)
                Assert.Equal(expected[i], actual[i]);
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Trainer_RefusesVariableLengthSamplesForAModelOfOneLength()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceModel<float>(dev, 1, hiddenSize: 4, numLayers: 1, outputSize: 4, seed: 1);
        var e = Assert.Throws<LstmException>(() => new Trainer<float>(model, new ClassifyTask(40, 1), null, new TrainerOptions { Loss = LossKind.CrossEntropy, BatchSize = 4 }));
        Assert.Contains("different lengths", e.Message);
    }
}
