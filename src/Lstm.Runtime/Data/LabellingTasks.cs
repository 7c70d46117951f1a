using System.Globalization;

namespace Lstm.Runtime.Data;

/// <summary>
/// The synthetic <c>label</c> task: sequences of random length in [⌈T/4⌉, T] of symbols drawn
/// uniformly from <see cref="Symbols"/>; step t's label is the running sum of the symbols up to and
/// including step t, modulo <see cref="Classes"/>, so it depends on the whole prefix and only a
/// recurrent state can give it. Input: one token id per step; sample i depends only on (seed, i).
/// </summary>
public static class LabelTask
{
    /// <summary>The task's name on the command line.</summary>
    public const string Name = "label";

    /// <summary>The alphabet's size.</summary>
    public const int Symbols = 4;

    /// <summary>The classes (the running sum modulo this).</summary>
    public const int Classes = 3;

    /// <summary>The longest sequence by default.</summary>
    public const int DefaultMaxLength = 24;

    /// <summary>Draws the samples.</summary>
    /// <param name="count">Samples ≥ 1.</param>
    /// <param name="seed">Sample i is drawn from (seed, i).</param>
    /// <param name="maxLength">The longest sequence ≥ 2.</param>
    public static LabelledSteps Create(int count, int seed, int maxLength = DefaultMaxLength)
    {
        if (count < 1 || maxLength < 2)
            throw new LstmException($"task {Name}: {count} samples of length up to {maxLength} (need ≥ 1 and ≥ 2)");
        var sequences = new double[count][];
        var targets = new int[count][];
        for (int i = 0; i < count; i++)
        {
            var rng = new Random(Seeds.Mix(seed, i));
            int length = rng.Next((maxLength + 3) / 4, maxLength + 1);
            sequences[i] = new double[length];
            targets[i] = new int[length];
            int sum = 0;
            for (int t = 0; t < length; t++)
            {
                int symbol = rng.Next(Symbols);
                sum = (sum + symbol) % Classes;
                sequences[i][t] = symbol;
                targets[i][t] = sum;
            }
        }

        return new LabelledSteps(sequences, 1, targets, Names(Classes), perStep: true);
    }

    /// <summary>"0", "1", ..., "n − 1": the names of the task's symbols or classes.</summary>
    /// <param name="n">How many.</param>
    internal static string[] Names(int n) => Enumerable.Range(0, n).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray();
}

/// <summary>
/// The synthetic <c>ctc</c> task, a small speech-recognition-like setup: a random label sequence of
/// 2 to <see cref="MaxLabels"/> labels (from <see cref="Labels"/>, repeats allowed) is spoken as frames
/// of <see cref="Features"/> noisy values: each label lasts 2 to 4 frames around its own fixed
/// prototype, with 0 to 2 frames of noise before, after and between labels (at least one between a
/// label and its repeat). The target is the label sequence, unaligned; class 0 is the blank. The
/// prototypes are the task's, the same for every seed; sample i depends only on (seed, i).
/// </summary>
public static class CtcTask
{
    /// <summary>The task's name on the command line.</summary>
    public const string Name = "ctc";

    /// <summary>Distinct labels (classes 1 to this; class 0 the blank).</summary>
    public const int Labels = 5;

    /// <summary>Values per frame.</summary>
    public const int Features = 8;

    /// <summary>The longest label sequence.</summary>
    public const int MaxLabels = 6;

    /// <summary>The noise's standard deviation on every value.</summary>
    public const double Noise = 0.5;

    /// <summary>Draws the samples.</summary>
    /// <param name="count">Samples ≥ 1.</param>
    /// <param name="seed">Sample i is drawn from (seed, i).</param>
    public static LabelledSteps Create(int count, int seed)
    {
        if (count < 1)
            throw new LstmException($"task {Name}: {count} samples (need ≥ 1)");
        var prototypes = new double[Labels + 1][];
        var fixedRng = new Random(0xC7C);
        prototypes[0] = new double[Features];
        for (int k = 1; k <= Labels; k++)
            prototypes[k] = Enumerable.Range(0, Features).Select(_ => fixedRng.Next(2) == 0 ? -1.0 : 1.0).ToArray();
        var sequences = new double[count][];
        var targets = new int[count][];
        for (int i = 0; i < count; i++)
        {
            var rng = new Random(Seeds.Mix(seed, i));
            var labels = new int[rng.Next(2, MaxLabels + 1)];
            var frames = new List<double>();
            void Frames(int label, int n)
            {
                for (int f = 0; f < n; f++)
                {
                    foreach (double v in prototypes[label])
                        frames.Add(v + Noise * Gaussian(rng));
                }
            }

            Frames(0, rng.Next(3));
            for (int s = 0; s < labels.Length; s++)
            {
                labels[s] = rng.Next(1, Labels + 1);
                if (s > 0)
                    Frames(0, rng.Next(labels[s] == labels[s - 1] ? 1 : 0, 3));
                Frames(labels[s], rng.Next(2, 5));
            }

            Frames(0, rng.Next(3));
            sequences[i] = [.. frames];
            targets[i] = labels;
        }

        return new LabelledSteps(sequences, Features, targets, ["<blank>", .. Enumerable.Range(0, Labels).Select(k => ((char)('a' + k)).ToString())], perStep: false);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
