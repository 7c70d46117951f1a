using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>A classification run's data: the training and validation sequences, how to read more (<see cref="ClassifierData"/>) and a one-line summary.</summary>
/// <param name="Train">The training sequences.</param>
/// <param name="Validation">The validation sequences.</param>
/// <param name="Description">Columns, tokens, vocabulary, statistics and classes.</param>
/// <param name="Summary">What the data is, in a line.</param>
public sealed record ClassificationData(IVariableLengthDataset Train, IVariableLengthDataset Validation, ClassifierData Description, string Summary)
{
    /// <summary>
    /// Prepares the data the settings name: the synthetic task (training samples from the seed,
    /// validation from the next), or a CSV file's sequences split by a seeded draw, the
    /// vocabulary or feature statistics fitted on the training part.
    /// </summary>
    /// <param name="s">The settings (validated).</param>
    /// <exception cref="LstmException">The file or a column is missing, a sequence is empty, or there are too few sequences or classes.</exception>
    public static ClassificationData Prepare(ClassificationSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        int seed = s.SeedOrDefault;
        if (s.Task is not null)
        {
            int length = s.SeqLen ?? ClassifyTask.DefaultMaxLength;
            var train = new ClassifyTask(s.TrainSamples ?? 4000, seed, length);
            var validation = new ClassifyTask(s.ValSamples ?? 500, seed + 1, length);
            var symbols = Enumerable.Range(0, train.Symbols).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray();
            var description = new ClassifierData { Source = "task", Vocabulary = symbols, Classes = symbols };
            return new ClassificationData(train, validation, description,
                $"task classify: {train.Count} training and {validation.Count} validation sequences of {train.MinLength} to {length} symbols of {train.Symbols}; the label is the symbol that occurs most");
        }

        string path = s.Csv!;
        var raw = s.IsText
            ? LabeledCsv.ReadTexts(path, s.TextColumn!, s.LabelColumn)
            : LabeledCsv.ReadFeatureSequences(path, s.SequenceColumn!, s.Features!.Split(',').Select(c => c.Trim()).ToArray(), s.LabelColumn);
        double fraction = s.ValFraction ?? ClassificationSettings.DefaultValFraction;
        int valCount = Math.Max(1, (int)Math.Ceiling(fraction * raw.Count));
        if (raw.Count - valCount < 1)
            throw new LstmException($"{path}: {raw.Count} sequence{(raw.Count == 1 ? " is" : "s are")} too few to split into training and validation (--val-fraction {fraction.ToString(CultureInfo.InvariantCulture)})");
        var order = Enumerable.Range(0, raw.Count).ToArray();
        var rng = new Random(Seeds.Mix(seed, 0x5E9));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var trainRaw = order[..^valCount].Select(i => raw[i]).ToList();
        var valRaw = order[^valCount..].Select(i => raw[i]).ToList();
        var d = s.IsText
            ? ClassifierData.FitText(trainRaw, raw, s.TextColumn!, s.LabelColumn!, s.Tokens ?? "char", s.VocabSize ?? ClassificationSettings.DefaultVocabSize)
            : ClassifierData.FitFeatures(trainRaw, raw, s.SequenceColumn!, s.Features!.Split(',').Select(c => c.Trim()).ToArray(), s.LabelColumn!);
        var trainSet = d.Encode(trainRaw, path);
        var valSet = d.Encode(valRaw, path);
        string what = s.IsText
            ? $"texts of column '{s.TextColumn}' as {(d.Tokens == "word" ? "words" : "characters")} (vocabulary {d.Vocabulary!.Count} with <unk>)"
            : $"sequences of rows with one '{s.SequenceColumn}' of {d.Features!.Count} z-scored feature{(d.Features.Count == 1 ? "" : "s")}";
        return new ClassificationData(trainSet, valSet, d,
            $"{path}: {raw.Count} {what}, {trainSet.Count} training and {valSet.Count} validation, up to {Math.Max(trainSet.Steps, valSet.Steps)} steps; {d.Classes.Count} classes of '{s.LabelColumn}' ({string.Join(", ", d.Classes)})");
    }

    /// <summary>The model the settings describe for this data.</summary>
    /// <param name="s">The settings.</param>
    public ModelConfig ModelFor(ClassificationSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var cell = ModelConfig.ParseCell(s.Cell ?? TrainingDefaults.Cell);
        var pool = ModelConfig.ParsePool(s.Pool ?? "mean");
        bool tokens = Description.Source != "features";
        var config = ModelConfig.SequenceClassifier(
            cell, Description.Classes.Count, s.Hidden ?? ClassificationSettings.DefaultHidden, pool,
            inputSize: tokens ? 0 : Description.InputSize,
            vocabSize: tokens ? Description.Vocabulary!.Count : 0,
            embeddingDim: tokens ? s.EmbeddingDim ?? ClassificationSettings.DefaultEmbeddingDim : 0,
            numLayers: s.Layers ?? 1, bidirectional: s.Bidirectional, dropout: s.Dropout ?? 0);
        config.Validate();
        return config;
    }

    /// <summary>Balanced class weights, N / (C·n_c) over the training labels (0 for a class absent from them).</summary>
    public double[] BalancedWeights()
    {
        int classes = Description.Classes.Count;
        var counts = new long[classes];
        var x = new double[Train.Steps * Train.InputSize];
        var y = new double[1];
        for (int i = 0; i < Train.Count; i++)
        {
            Train.Fill(i, x, y);
            counts[(int)y[0]]++;
        }

        return counts.Select(n => n == 0 ? 0 : (double)Train.Count / (classes * n)).ToArray();
    }
}
