using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>An encoder-decoder run's data: the training and validation pairs as text and as token ids, the vocabularies and a one-line summary.</summary>
/// <param name="TrainPairs">The training pairs.</param>
/// <param name="ValidationPairs">The validation pairs.</param>
/// <param name="Train">The training pairs as ids.</param>
/// <param name="Validation">The validation pairs as ids.</param>
/// <param name="Description">Tokens and vocabularies.</param>
/// <param name="Summary">What the data is, in a line.</param>
public sealed record Seq2SeqData(
    IReadOnlyList<TextPair> TrainPairs, IReadOnlyList<TextPair> ValidationPairs, PairSequences Train, PairSequences Validation, PairData Description, string Summary)
{
    /// <summary>
    /// Prepares the data the settings name: a task's pairs (training from the seed, validation
    /// from the next), or a pairs file split by a seeded draw; the vocabularies are fitted on the
    /// training pairs.
    /// </summary>
    /// <param name="s">The settings (validated).</param>
    /// <exception cref="LstmException">The file or a line is bad, or there are too few pairs to split.</exception>
    public static Seq2SeqData Prepare(Seq2SeqSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        int seed = s.SeedOrDefault;
        string tokens = s.Tokens ?? "char";
        List<TextPair> train, validation;
        string where;
        if (s.Task is { } task)
        {
            int length = s.SeqLen ?? SentencePairs.DefaultReverseLength;
            train = SentencePairs.Task(task, s.TrainSamples ?? Seq2SeqSettings.DefaultTrainSamples, seed, length);
            validation = SentencePairs.Task(task, s.ValSamples ?? Seq2SeqSettings.DefaultValSamples, seed + 1, length);
            where = $"task {task}";
        }
        else
        {
            string path = s.Pairs!;
            var all = SentencePairs.Read(path);
            double fraction = s.ValFraction ?? Seq2SeqSettings.DefaultValFraction;
            int valCount = Math.Max(1, (int)Math.Ceiling(fraction * all.Count));
            if (all.Count - valCount < 1)
                throw new LstmException($"{path}: {all.Count} pair{(all.Count == 1 ? " is" : "s are")} too few to split into training and validation (--val-fraction {fraction.ToString(CultureInfo.InvariantCulture)})");
            var order = Enumerable.Range(0, all.Count).ToArray();
            new Random(Seeds.Mix(seed, 0x5E9)).Shuffle(order);
            train = order[..^valCount].Select(i => all[i]).ToList();
            validation = order[^valCount..].Select(i => all[i]).ToList();
            where = path;
        }

        var d = PairData.Fit(train, tokens, s.VocabSize ?? Seq2SeqSettings.DefaultVocabSize, s.Task);
        var trainSet = d.Encode(train, where, s.MaxLengthOrDefault);
        var valSet = d.Encode(validation, where, s.MaxLengthOrDefault);
        // The trainer reads both sets' targets with one row length: they share T.
        int steps = Math.Max(trainSet.Steps, valSet.Steps);
        (trainSet, valSet) = (trainSet.WithSteps(steps), valSet.WithSteps(steps));
        string summary = $"{where}: {trainSet.Count} training and {valSet.Count} validation pairs of {d.TokenWord}, sources up to {d.MaxSourceTokens} and targets up to {d.MaxTargetTokens}; vocabularies {d.SourceVocabulary.Count} source and {d.TargetVocabulary.Count} target tokens (4 specials included)";
        return new Seq2SeqData(train, validation, trainSet, valSet, d, summary);
    }

    /// <summary>The model the settings describe for this data.</summary>
    /// <param name="s">The settings.</param>
    public ModelConfig ModelFor(Seq2SeqSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var config = ModelConfig.EncoderDecoder(
            ModelConfig.ParseCell(s.Cell ?? TrainingDefaults.Cell), Description.SourceVocabulary.Count, Description.TargetVocabulary.Count,
            s.EmbeddingDim ?? Seq2SeqSettings.DefaultEmbeddingDim, s.Hidden ?? Seq2SeqSettings.DefaultHidden,
            ModelConfig.ParseAttention(s.Attention ?? "luong"), s.Layers ?? 1, s.Bidirectional, s.Dropout ?? 0);
        config.Validate();
        return config;
    }

    /// <summary>The loss's class weights: 0 for <c>&lt;pad&gt;</c> (the padding past a target's end counts nothing), 1 for every other target token.</summary>
    public double[] PaddingMaskWeights()
    {
        var w = Enumerable.Repeat(1.0, Description.TargetVocabulary.Count).ToArray();
        w[TokenVocabulary.PadId] = 0;
        return w;
    }
}
