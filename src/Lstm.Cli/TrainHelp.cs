using System.Globalization;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary>
/// The help texts of <c>lstm train</c>'s options that state a numeric default, taken from
/// <see cref="TrainingDefaults"/> (an attribute's text cannot interpolate a number; the options
/// name these properties with <c>ResourceType</c>).
/// </summary>
public static class TrainHelp
{
    /// <summary><c>--layers</c>.</summary>
    public static string Layers => Text($"Stacked recurrent layers. Default {TrainingDefaults.Layers}.");

    /// <summary><c>--hidden</c>.</summary>
    public static string Hidden => Text($"Hidden size. Default {TrainingDefaults.Hidden} ({TrainingDefaults.TextHidden} for text).");

    /// <summary><c>--embedding-dim</c>.</summary>
    public static string EmbeddingDim => Text($"Text and copy task: embedding size. Default {TrainingDefaults.EmbeddingDim}.");

    /// <summary><c>--steps</c>.</summary>
    public static string Steps => Text($"Training steps (one batch each). Default {TrainingDefaults.Steps}.");

    /// <summary><c>--batch-size</c>.</summary>
    public static string BatchSize => Text($"Samples per batch. Default {TrainingDefaults.BatchSize}.");

    /// <summary><c>--lr</c>.</summary>
    public static string LearningRate => Text($"Learning rate (the schedule's peak). Default {TrainingDefaults.AdamLearningRate} (adam, adamw), {TrainingDefaults.SgdLearningRate} (sgd).");

    /// <summary><c>--weight-decay</c>.</summary>
    public static string WeightDecay => Text($"L2 weight decay (decoupled for adamw). Default 0 ({TrainingDefaults.AdamWWeightDecay} for adamw).");

    /// <summary><c>--clip</c>.</summary>
    public static string Clip => Text($"Clip the gradients' global norm to this (0 = off). Default {TrainingDefaults.Clip}.");

    /// <summary><c>--seed</c>.</summary>
    public static string Seed => Text($"Seed of the initialization, the synthetic samples, the batch order and dropout: the same seed on the same device gives the same run bit for bit. Default {TrainingDefaults.Seed}.");

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
