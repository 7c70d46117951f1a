using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Training;

namespace Lstm.Runtime.Tests;

/// <summary>
/// An encoder-decoder learns to reverse strings of 1 to 12 letters on the cpu device: exact match
/// above 90 % on fresh pairs after 800 steps; beam search is no worse than greedy decoding, and
/// one beam takes exactly greedy's tokens.
/// </summary>
public sealed class TranslationLearningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-seq2seq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Quiet : ITrainingObserver
    {
        public void Train(TrainingRunStart start, Action<Action<StepMetrics>> train) => train(_ => { });

        public void DrawLossPlot(string file, IReadOnlyList<StepMetrics> records, string title) => File.WriteAllText(file, title);
    }

    [Fact]
    public void Reversal_ExactMatchAbove90Percent_BeamNoWorseThanGreedy_OneBeamIsGreedy()
    {
        string run = Path.Combine(_dir, "reverse");
        var settings = new Seq2SeqSettings { Task = SentencePairs.Reverse, Hidden = 64, Bidirectional = true, Steps = 800, ValidateEvery = 400 };
        var result = Seq2SeqRun.Start(settings, "cpu", run, "test", new Quiet());
        Assert.True(result.Run.Finished);
        Assert.True(result.TokenAccuracy > 0.95, $"validation token accuracy {result.TokenAccuracy}");

        // Fresh pairs: another seed than training's (1) and validation's (2).
        var greedy = Seq2SeqEvaluation.Evaluate(new Seq2SeqEvaluationSettings { Run = run, Device = "cpu", Task = SentencePairs.Reverse, Samples = 400, Seed = 77 });
        Assert.True(greedy.ExactMatch > 0.9, $"exact match {greedy.ExactMatch:P1}");
        Assert.True(greedy.Bleu.Score > 0.9, $"BLEU {greedy.Bleu.Score}");
        var beam = Seq2SeqEvaluation.Evaluate(new Seq2SeqEvaluationSettings { Run = run, Device = "cpu", Task = SentencePairs.Reverse, Samples = 400, Seed = 77, Beam = 4 });
        Assert.True(beam.ExactMatches >= greedy.ExactMatches, $"beam {beam.ExactMatches} < greedy {greedy.ExactMatches} exact matches");

        using var device = ComputeDevice.Open("cpu");
        string modelDir = Path.Combine(run, RunFiles.ModelDirectory);
        using var model = Seq2SeqModel<float>.Load(device, modelDir);
        var data = PairData.Load(Path.Combine(modelDir, PairData.FileName));
        var sources = SentencePairs.Task(SentencePairs.Reverse, 100, 78).Select(p => data.EncodeSource(p.Source, "task", 0, 100)).ToList();
        using (var decoder = new ModelStepDecoder(model, sources))
        {
            var oneBeam = Seq2SeqDecoding.Beam(decoder, sources.Count, 1, 30);
            Assert.Equal(Seq2SeqScoring.Decode(model, sources, 1, 30), oneBeam);
        }
    }
}
