using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>Teacher-forced scores of an encoder-decoder on token pairs.</summary>
/// <param name="CrossEntropy">The mean cross-entropy per target token, in nats.</param>
/// <param name="Correct">Target tokens whose likeliest prediction was right.</param>
/// <param name="Tokens">Target tokens, each target's <c>&lt;eos&gt;</c> included.</param>
public sealed record TeacherForcedScore(double CrossEntropy, long Correct, long Tokens)
{
    /// <summary>Correct / Tokens.</summary>
    public double TokenAccuracy => Tokens > 0 ? (double)Correct / Tokens : 0;
}

/// <summary>An encoder-decoder's two ways of being scored: teacher-forced (every target token predicted from the true ones before it) and free decoding.</summary>
internal static class Seq2SeqScoring
{
    /// <summary>Sources per decoding batch (each times the beams).</summary>
    public const int DecodeBatch = 64;

    /// <summary>Teacher-forced cross-entropy and token accuracy over every target token (and <c>&lt;eos&gt;</c>), in batches of <paramref name="batchSize"/> pairs in index order.</summary>
    public static TeacherForcedScore TeacherForced(Seq2SeqBatchModel model, PairSequences data, int batchSize)
    {
        double loss = 0;
        long correct = 0, tokens = 0;
        int v = model.OutputSize;
        for (int first = 0; first < data.Count; first += batchSize)
        {
            int rows = Math.Min(batchSize, data.Count - first);
            var batch = DataLoader.Load(data, Enumerable.Range(first, rows).ToArray());
            int steps = batch.Steps;
            using var x = Tensor<float>.FromArray(model.Device, batch.X.Select(value => (float)value).ToArray(), rows, steps, 2);
            using var logits = model.Forward(x, batch.Lengths!, training: false);
            var z = logits.ToArray();
            for (int b = 0; b < rows; b++)
            {
                for (int u = 0; u < steps; u++)
                {
                    int target = (int)batch.Y[(b * data.TargetLength) + u];
                    if (target == TokenVocabulary.PadId)
                        continue;
                    var row = z.AsSpan(((b * steps) + u) * v, v);
                    double max = double.NegativeInfinity, sum = 0;
                    foreach (float value in row)
                        max = Math.Max(max, value);
                    foreach (float value in row)
                        sum += Math.Exp(value - max);
                    loss += max + Math.Log(sum) - row[target];
                    tokens++;
                    if (Seq2SeqDecoding.ArgMax(row) == target)
                        correct++;
                }
            }
        }

        return new TeacherForcedScore(tokens > 0 ? loss / tokens : 0, correct, tokens);
    }

    /// <summary>Decodes every source, <see cref="DecodeBatch"/> at a time: greedy with one beam, else beam search.</summary>
    public static int[][] Decode(Seq2SeqModel<float> model, IReadOnlyList<int[]> sources, int beam, int maxLength)
    {
        var result = new List<int[]>(sources.Count);
        for (int first = 0; first < sources.Count; first += DecodeBatch)
        {
            var chunk = sources.Skip(first).Take(DecodeBatch).ToList();
            using var decoder = new ModelStepDecoder(model, chunk);
            result.AddRange(beam == 1 ? Seq2SeqDecoding.Greedy(decoder, chunk.Count, maxLength) : Seq2SeqDecoding.Beam(decoder, chunk.Count, beam, maxLength));
        }

        return result.ToArray();
    }
}
