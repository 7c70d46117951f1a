namespace Lstm.Runtime.Data;

/// <content>
/// A sequence labeller's data: rows of one id as a sequence of feature values (z-scored) or of
/// tokens (one per row, through the vocabulary), with a class per row (<c>step</c>) or a CTC target
/// per sequence (<c>ctc</c>: labels separated by spaces, classes after the blank).
/// </content>
public sealed partial record ClassifierData
{
    /// <summary>The name of CTC's class 0.</summary>
    public const string Blank = "<blank>";

    /// <summary>
    /// Fits a labeller's inputs on the training sequences (feature statistics, or the
    /// <paramref name="vocabSize"/> − 1 most frequent tokens) and its classes on every sequence of
    /// the file: per step every row label, ordinally sorted; CTC <see cref="Blank"/>, then every
    /// label of the targets, ordinally sorted.
    /// </summary>
    /// <param name="train">The training sequences.</param>
    /// <param name="all">Every sequence of the file.</param>
    /// <param name="sequenceColumn">The id column.</param>
    /// <param name="features">The value columns, or null for a token column.</param>
    /// <param name="tokenColumn">The token column, or null for features.</param>
    /// <param name="labelColumn">The label column.</param>
    /// <param name="ctc">CTC targets rather than a label per row.</param>
    /// <param name="vocabSize">The vocabulary cap (tokens).</param>
    /// <exception cref="LstmException">Too few classes, or a target names the blank.</exception>
    public static ClassifierData FitSteps(
        IReadOnlyList<RawSequence> train, IReadOnlyList<RawSequence> all, string sequenceColumn, IReadOnlyList<string>? features, string? tokenColumn,
        string labelColumn, bool ctc, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(all);
        string[] classes;
        if (ctc)
        {
            var labels = all.SelectMany(s => TargetLabels(s.Label!)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            if (labels.Contains(Blank))
                throw new LstmException($"column '{labelColumn}': '{Blank}' is CTC's blank, not a label");
            if (labels.Length == 0)
                throw new LstmException($"column '{labelColumn}': the targets hold no labels");
            classes = [Blank, .. labels];
        }
        else
        {
            classes = all.SelectMany(s => s.StepLabels!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            if (classes.Length < 2)
                throw new LstmException($"column '{labelColumn}': the rows hold {classes.Length} label{(classes.Length == 1 ? $" ('{classes[0]}')" : "s")}; a labeller needs at least 2");
        }

        var data = new ClassifierData
        {
            Source = features is null ? "tokens" : "features", SequenceColumn = sequenceColumn, TextColumn = tokenColumn, LabelColumn = labelColumn,
            Features = features?.ToArray(), Targets = ctc ? "ctc" : "step", Classes = classes,
        };
        if (features is not null)
        {
            var (mean, std) = FeatureStatistics(train, features.Count);
            return data with { FeatureMean = mean, FeatureStd = std };
        }

        return data with { Vocabulary = FitVocabulary(train.SelectMany(s => s.Tokens!), vocabSize) };
    }

    /// <summary>The labels of a CTC target as written: separated by white space.</summary>
    /// <param name="target">The label column's value.</param>
    public static string[] TargetLabels(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return target.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// The sequences as a labeller's dataset: token ids (unknown tokens as <see cref="Unknown"/>) or
    /// z-scored values, and their targets (sequences without labels get class 0 per step or an
    /// empty target).
    /// </summary>
    /// <param name="raw">The sequences of rows.</param>
    /// <param name="source">The file, for messages.</param>
    /// <exception cref="LstmException">A label is not a class, or a CTC target is longer than its sequence allows (file and line named).</exception>
    public LabelledSteps EncodeSteps(IReadOnlyList<RawSequence> raw, string source)
    {
        ArgumentNullException.ThrowIfNull(raw);
        bool ctc = Targets == "ctc";
        var ids = Vocabulary?.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        var classes = Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var sequences = new double[raw.Count][];
        var targets = new int[raw.Count][];
        for (int k = 0; k < raw.Count; k++)
        {
            var s = raw[k];
            double[] x;
            if (Source == "features")
            {
                var v = s.Values ?? throw new LstmException($"{source}:{s.Line}: not a sequence of feature values");
                int f = Features!.Count;
                x = new double[v.Length];
                for (int i = 0; i < v.Length; i++)
                    x[i] = (v[i] - FeatureMean![i % f]) / FeatureStd![i % f];
            }
            else
            {
                x = (s.Tokens ?? throw new LstmException($"{source}:{s.Line}: not a sequence of tokens")).Select(t => (double)ids!.GetValueOrDefault(t, 0)).ToArray();
            }

            int length = x.Length / InputSize;
            if (length == 0)
                throw new LstmException($"{source}:{s.Line}: sequence '{s.Name}' has no steps (an empty sequence cannot be labelled)");
            int Class(string label, int line) => classes.TryGetValue(label, out int c) && !(ctc && c == 0)
                ? c
                : throw new LstmException($"{source}:{line}: label '{label}' is not one of the model's {(ctc ? "labels" : "classes")} ({string.Join(", ", ctc ? Classes.Skip(1) : Classes)})");
            if (ctc)
            {
                var labels = s.Label is { } target ? TargetLabels(target).Select(l => Class(l, s.Line)).ToArray() : [];
                int need = LabelledSteps.CtcSteps(labels);
                if (need > length)
                    throw new LstmException($"{source}:{s.Line}: sequence '{s.Name}' has {length} step{(length == 1 ? "" : "s")}, too few for its target of {labels.Length} labels ('{s.Label}'): CTC needs at least {need} (one per label and a blank between repeated labels)");
                targets[k] = labels;
            }
            else
            {
                targets[k] = s.StepLabels is { } steps ? steps.Select((l, t) => Class(l, s.Lines?[t] ?? s.Line)).ToArray() : new int[length];
            }

            sequences[k] = x;
        }

        return new LabelledSteps(sequences, InputSize, targets, Classes, perStep: !ctc, raw.Select(s => s.Name).ToArray());
    }
}
