using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lstm.Runtime.Data;

/// <summary>
/// What a sequence classifier needs to read new data as it read its training data, saved as
/// <c>classifier.json</c> beside the model: where the sequences come from (a text column, a
/// sequence id with feature columns, or a synthetic task), the tokens and vocabulary (text),
/// the z-score statistics of the features (fitted on the training sequences), and the class
/// names in id order.
/// </summary>
public sealed partial record ClassifierData
{
    private static readonly DataJson Readable = new(new JsonSerializerOptions(DataJson.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>The file name in a model folder.</summary>
    public const string FileName = "classifier.json";

    /// <summary>The vocabulary's first entry: every token not in it.</summary>
    public const string Unknown = "<unk>";

    /// <summary><c>text</c>, <c>features</c>, <c>tokens</c> (a token per row, a labeller) or <c>task</c>.</summary>
    public string Source { get; init; } = "text";

    /// <summary>The text column (text).</summary>
    public string? TextColumn { get; init; }

    /// <summary>The label column (text, features).</summary>
    public string? LabelColumn { get; init; }

    /// <summary>The sequence id column (features).</summary>
    public string? SequenceColumn { get; init; }

    /// <summary>The feature columns (features).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary><c>char</c> or <c>word</c> (text).</summary>
    public string? Tokens { get; init; }

    /// <summary>The tokens in id order, <see cref="Unknown"/> first (text, task).</summary>
    public IReadOnlyList<string>? Vocabulary { get; init; }

    /// <summary>Each feature's training mean (features).</summary>
    public IReadOnlyList<double>? FeatureMean { get; init; }

    /// <summary>Each feature's training standard deviation, 1 where it is 0 (features).</summary>
    public IReadOnlyList<double>? FeatureStd { get; init; }

    /// <summary>The class names in id order.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    /// <summary>A labeller's targets: <c>step</c> (a label per row) or <c>ctc</c> (a label sequence per sequence); null for a classifier.</summary>
    public string? Targets { get; init; }

    /// <summary>Values per step the model reads: 1 (a token id) or the feature count (of a file, or of the ctc task's frames).</summary>
    public int InputSize => Source == "features" ? Features!.Count : Source == "task" && Targets == "ctc" ? CtcTask.Features : 1;

    /// <summary>
    /// Fits the vocabulary (the <paramref name="vocabSize"/> − 1 most frequent tokens of the
    /// training texts, ties in ordinal order, after <see cref="Unknown"/>) and the class names
    /// (every label of <paramref name="all"/>, ordinally sorted) of a text classifier.
    /// </summary>
    /// <param name="train">The training texts.</param>
    /// <param name="all">Every text of the file (for the labels).</param>
    /// <param name="textColumn">The text column.</param>
    /// <param name="labelColumn">The label column.</param>
    /// <param name="tokens"><c>char</c> or <c>word</c>.</param>
    /// <param name="vocabSize">The vocabulary's size cap, ≥ 2.</param>
    public static ClassifierData FitText(IReadOnlyList<RawSequence> train, IReadOnlyList<RawSequence> all, string textColumn, string labelColumn, string tokens, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(all);
        CheckTokens(tokens);
        var vocabulary = FitVocabulary(train.SelectMany(s => Tokenize(s.Text ?? "", tokens)), vocabSize);
        return new ClassifierData
        {
            Source = "text", TextColumn = textColumn, LabelColumn = labelColumn, Tokens = tokens, Vocabulary = vocabulary, Classes = ClassesOf(all),
        };
    }

    /// <summary>Fits the features' z-score statistics (over every step of the training sequences) and the class names of a feature classifier.</summary>
    /// <param name="train">The training sequences.</param>
    /// <param name="all">Every sequence of the file (for the labels).</param>
    /// <param name="sequenceColumn">The id column.</param>
    /// <param name="features">The value columns.</param>
    /// <param name="labelColumn">The label column.</param>
    public static ClassifierData FitFeatures(IReadOnlyList<RawSequence> train, IReadOnlyList<RawSequence> all, string sequenceColumn, IReadOnlyList<string> features, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(features);
        var (mean, std) = FeatureStatistics(train, features.Count);
        return new ClassifierData
        {
            Source = "features", SequenceColumn = sequenceColumn, Features = features.ToArray(), LabelColumn = labelColumn,
            FeatureMean = mean, FeatureStd = std, Classes = ClassesOf(all),
        };
    }

    /// <summary>The <paramref name="vocabSize"/> − 1 most frequent tokens (ties in ordinal order) after <see cref="Unknown"/>.</summary>
    private static List<string> FitVocabulary(IEnumerable<string> tokens, int vocabSize)
    {
        if (vocabSize < 2)
            throw new LstmException($"--vocab-size {vocabSize}: must be at least 2 (<unk> and one token)");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string t in tokens)
            counts[t] = counts.GetValueOrDefault(t) + 1;
        var vocabulary = new List<string> { Unknown };
        vocabulary.AddRange(counts.Where(kv => kv.Key != Unknown).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(vocabSize - 1).Select(kv => kv.Key));
        return vocabulary;
    }

    /// <summary>Each feature's mean and standard deviation (1 where it is 0) over every step of the training sequences.</summary>
    private static (double[] Mean, double[] Std) FeatureStatistics(IReadOnlyList<RawSequence> train, int f)
    {
        var mean = new double[f];
        var std = new double[f];
        long n = 0;
        foreach (var s in train)
        {
            for (int i = 0; i < s.Values!.Length; i++)
                mean[i % f] += s.Values[i];
            n += s.Values.Length / f;
        }

        for (int j = 0; j < f; j++)
            mean[j] /= Math.Max(1, n);
        foreach (var s in train)
        {
            for (int i = 0; i < s.Values!.Length; i++)
                std[i % f] += (s.Values[i] - mean[i % f]) * (s.Values[i] - mean[i % f]);
        }

        for (int j = 0; j < f; j++)
        {
            std[j] = Math.Sqrt(std[j] / Math.Max(1, n));
            if (!(std[j] > 1e-12))
                std[j] = 1;
        }

        return (mean, std);
    }

    /// <summary>The tokens of a text: Unicode characters (<c>char</c>), or lower-case runs of letters, digits and apostrophes (<c>word</c>).</summary>
    /// <param name="text">The text.</param>
    /// <param name="tokens"><c>char</c> or <c>word</c>.</param>
    public static List<string> Tokenize(string text, string tokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<string>();
        if (tokens == "char")
        {
            foreach (var r in text.EnumerateRunes())
                result.Add(r.ToString());
            return result;
        }

        var word = new StringBuilder();
        foreach (var r in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(r) || r.Value == '\'')
            {
                word.Append(Rune.ToLowerInvariant(r).ToString());
            }
            else if (word.Length > 0)
            {
                result.Add(word.ToString());
                word.Clear();
            }
        }

        if (word.Length > 0)
            result.Add(word.ToString());
        return result;
    }

    /// <summary>
    /// The sequences as a dataset of this classifier's inputs: token ids (unknown tokens as
    /// <see cref="Unknown"/>) or z-scored values; labels must be classes (unlabelled sequences get class 0).
    /// </summary>
    /// <param name="raw">The sequences.</param>
    /// <param name="source">The file, for messages.</param>
    /// <exception cref="LstmException">A sequence is empty (no tokens) or its label is not a class.</exception>
    public LabeledSequences Encode(IReadOnlyList<RawSequence> raw, string source)
    {
        ArgumentNullException.ThrowIfNull(raw);
        var ids = Vocabulary?.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        var classes = Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var sequences = new double[raw.Count][];
        var labels = new int[raw.Count];
        for (int k = 0; k < raw.Count; k++)
        {
            var s = raw[k];
            if (s.Label is { } label)
            {
                labels[k] = classes.TryGetValue(label, out int c)
                    ? c
                    : throw new LstmException($"{source}:{s.Line}: label '{label}' is not one of the model's classes ({string.Join(", ", Classes)})");
            }

            if (Source == "features")
            {
                var v = s.Values ?? throw new LstmException($"{source}:{s.Line}: not a sequence of feature values");
                int f = Features!.Count;
                if (v.Length == 0 || v.Length % f != 0)
                    throw new LstmException($"{source}:{s.Line}: sequence '{s.Name}' has no steps (an empty sequence cannot be classified)");
                var z = new double[v.Length];
                for (int i = 0; i < v.Length; i++)
                    z[i] = (v[i] - FeatureMean![i % f]) / FeatureStd![i % f];
                sequences[k] = z;
            }
            else
            {
                var tokens = Tokenize(s.Text ?? "", Tokens ?? "char");
                if (tokens.Count == 0)
                    throw new LstmException($"{source}:{s.Line}: column '{TextColumn}' has no {(Tokens == "word" ? "words" : "characters")} (an empty sequence cannot be classified)");
                sequences[k] = tokens.Select(t => (double)ids!.GetValueOrDefault(t, 0)).ToArray();
            }
        }

        return new LabeledSequences(sequences, InputSize, labels, Classes, raw.Select(s => s.Name).ToArray());
    }

    /// <summary>Reads a CSV file in this classifier's format (its columns); with <paramref name="labelled"/>, the label column must be there.</summary>
    /// <param name="path">The file.</param>
    /// <param name="labelled">Whether labels are required (eval) or read only when present (predict).</param>
    public List<RawSequence> ReadCsv(string path, bool labelled)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Source == "task")
            throw new LstmException($"{path}: the model was trained on a synthetic task; evaluate it with --task");
        string? label = LabelColumn;
        if (!labelled && label is not null && !LabeledCsv.Read(path).Header.Contains(label))
            label = null;
        if (Targets is not null)
            return LabeledCsv.ReadRowSequences(path, SequenceColumn!, Source == "features" ? Features : null, Source == "tokens" ? TextColumn : null, label, Targets == "ctc" ? RowLabels.Target : RowLabels.EveryRow);
        return Source == "features"
            ? LabeledCsv.ReadFeatureSequences(path, SequenceColumn!, Features!, label)
            : LabeledCsv.ReadTexts(path, TextColumn!, label);
    }

    /// <summary>The file's JSON (snake_case, indented; tokens written as they are, not as \u escapes).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Readable.ClassifierData);

    /// <summary>Reads <c>classifier.json</c>.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">It is missing or not such a file.</exception>
    public static ClassifierData Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file (a sequence classifier's model folder holds it)");
        try
        {
            var data = JsonSerializer.Deserialize(File.ReadAllText(path), DataJson.Default.ClassifierData) ?? throw new LstmException($"{path}: null");
            bool ok = data.Classes.Count >= 2 && data.Targets is null or "step" or "ctc" && (data.Source != "tokens" || data.Targets is not null) && data.Source switch
            {
                "text" => data.TextColumn is not null && data.Vocabulary is { Count: > 0 } && data.Tokens is "char" or "word",
                "features" => data.SequenceColumn is not null && data.Features is { Count: > 0 } f && data.FeatureMean?.Count == f.Count && data.FeatureStd?.Count == f.Count,
                "tokens" => data.SequenceColumn is not null && data.TextColumn is not null && data.Vocabulary is { Count: > 0 },
                "task" => data.Vocabulary is { Count: > 0 } || data.Targets is not null,
                _ => false,
            };
            return ok ? data : throw new LstmException($"{path}: not a complete classifier description (source '{data.Source}')");
        }
        catch (JsonException e)
        {
            throw new LstmException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Checks a token mode.</summary>
    /// <param name="tokens">The mode.</param>
    public static void CheckTokens(string tokens)
    {
        if (tokens is not ("char" or "word"))
            throw new LstmException($"--tokens '{tokens}': must be char or word");
    }

    private static string[] ClassesOf(IReadOnlyList<RawSequence> all)
    {
        var classes = all.Select(s => s.Label!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (classes.Length < 2)
            throw new LstmException($"the labels hold {classes.Length} class{(classes.Length == 1 ? $" ('{classes[0]}')" : "es")}; a classifier needs at least 2");
        return classes;
    }

}
