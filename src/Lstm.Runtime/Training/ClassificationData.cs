using System.Globalization;
using Lstm.Runtime.Data;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>A classification or labelling run's data: the training and validation sequences, how to read more (<see cref="ClassifierData"/>) and a one-line summary.</summary>
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
        if (s.IsLabeller)
            return PrepareLabeller(s);
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
        var (trainRaw, valRaw) = Split(raw, s, path);
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

    /// <summary>A file's sequences in a seeded order, the last ⌈fraction·N⌉ (at least one) validating.</summary>
    private static (List<RawSequence> Train, List<RawSequence> Validation) Split(List<RawSequence> raw, ClassificationSettings s, string path)
    {
        double fraction = s.ValFraction ?? ClassificationSettings.DefaultValFraction;
        int valCount = Math.Max(1, (int)Math.Ceiling(fraction * raw.Count));
        if (raw.Count - valCount < 1)
            throw new LstmException($"{path}: {raw.Count} sequence{(raw.Count == 1 ? " is" : "s are")} too few to split into training and validation (--val-fraction {fraction.ToString(CultureInfo.InvariantCulture)})");
        var order = Enumerable.Range(0, raw.Count).ToArray();
        var rng = new Random(Seeds.Mix(s.SeedOrDefault, 0x5E9));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return (order[..^valCount].Select(i => raw[i]).ToList(), order[^valCount..].Select(i => raw[i]).ToList());
    }

    /// <summary>A labeller's data: its synthetic task (training from the seed, validation from the next) or a file's sequences of rows.</summary>
    private static ClassificationData PrepareLabeller(ClassificationSettings s)
    {
        int seed = s.SeedOrDefault;
        bool ctc = s.IsCtc;
        if (s.Task is not null)
        {
            int length = s.SeqLen ?? LabelTask.DefaultMaxLength;
            var train = ctc ? CtcTask.Create(s.TrainSamples ?? 2000, seed) : LabelTask.Create(s.TrainSamples ?? 2000, seed, length);
            var validation = ctc ? CtcTask.Create(s.ValSamples ?? 300, seed + 1) : LabelTask.Create(s.ValSamples ?? 300, seed + 1, length);
            var description = new ClassifierData { Source = "task", Targets = ctc ? "ctc" : "step", Classes = train.Classes, Vocabulary = ctc ? null : LabelTask.Names(LabelTask.Symbols) };
            string what = ctc
                ? $"frames of {CtcTask.Features} noisy values, each of 2 to {CtcTask.MaxLabels} labels (of {CtcTask.Labels}) lasting 2 to 4 frames; the target is the label sequence (CTC, blank 0)"
                : $"{LabelTask.Symbols} symbols, up to {length} steps; each step's label is the running sum of the symbols mod {LabelTask.Classes}";
            return new ClassificationData(train, validation, description, $"task {s.Task}: {train.Count} training and {validation.Count} validation sequences of {what}");
        }

        string path = s.Csv!;
        var features = s.Features?.Split(',').Select(c => c.Trim()).ToArray();
        var raw = LabeledCsv.ReadRowSequences(path, s.SequenceColumn!, features, s.TextColumn, s.LabelColumn, ctc ? RowLabels.Target : RowLabels.EveryRow);
        var (trainRaw, valRaw) = Split(raw, s, path);
        var d = ClassifierData.FitSteps(trainRaw, raw, s.SequenceColumn!, features, s.TextColumn, s.LabelColumn!, ctc, s.VocabSize ?? ClassificationSettings.DefaultVocabSize);
        var trainSet = d.EncodeSteps(trainRaw, path);
        var valSet = d.EncodeSteps(valRaw, path);
        string input = features is null ? $"tokens of column '{s.TextColumn}' (vocabulary {d.Vocabulary!.Count} with <unk>)" : $"{features.Length} z-scored feature{(features.Length == 1 ? "" : "s")}";
        string labels = ctc ? $"a label sequence of '{s.LabelColumn}' per sequence ({d.Classes.Count - 1} labels and the blank)" : $"{d.Classes.Count} classes of '{s.LabelColumn}' per row ({string.Join(", ", d.Classes)})";
        return new ClassificationData(trainSet, valSet, d,
            $"{path}: {raw.Count} sequences of rows with one '{s.SequenceColumn}' of {input}, {trainSet.Count} training and {valSet.Count} validation, up to {Math.Max(trainSet.Steps, valSet.Steps)} steps; {labels}");
    }

    /// <summary>The model the settings describe for this data.</summary>
    /// <param name="s">The settings.</param>
    public ModelConfig ModelFor(ClassificationSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var cell = ModelConfig.ParseCell(s.Cell ?? TrainingDefaults.Cell);
        var pool = ModelConfig.ParsePool(s.Pool ?? "mean");
        bool tokens = Description.Source != "features" && !(Description.Source == "task" && s.IsCtc);
        if (s.IsLabeller)
        {
            var labeller = ModelConfig.SequenceLabeller(
                cell, Description.Classes.Count, s.Hidden ?? ClassificationSettings.DefaultHidden,
                inputSize: tokens ? 0 : Train.InputSize,
                vocabSize: tokens ? Description.Vocabulary!.Count : 0,
                embeddingDim: tokens ? s.EmbeddingDim ?? ClassificationSettings.DefaultEmbeddingDim : 0,
                numLayers: s.Layers ?? 1, bidirectional: s.Bidirectional, dropout: s.Dropout ?? 0);
            labeller.Validate();
            return labeller;
        }

        var config = ModelConfig.SequenceClassifier(
            cell, Description.Classes.Count, s.Hidden ?? ClassificationSettings.DefaultHidden, pool,
            inputSize: tokens ? 0 : Description.InputSize,
            vocabSize: tokens ? Description.Vocabulary!.Count : 0,
            embeddingDim: tokens ? s.EmbeddingDim ?? ClassificationSettings.DefaultEmbeddingDim : 0,
            numLayers: s.Layers ?? 1, bidirectional: s.Bidirectional, dropout: s.Dropout ?? 0);
        config.Validate();
        return config;
    }

    /// <summary>Balanced class weights, N / (C·n_c) over the training labels, a labeller's per step (0 for a class absent from them).</summary>
    public double[] BalancedWeights()
    {
        int classes = Description.Classes.Count;
        if (Train is LabelledSteps steps)
        {
            var stepCounts = steps.ClassCounts();
            long total = stepCounts.Sum();
            return stepCounts.Select(n => n == 0 ? 0 : (double)total / (classes * n)).ToArray();
        }

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
