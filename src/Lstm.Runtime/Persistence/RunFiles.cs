namespace Lstm.Runtime.Persistence;

/// <summary>
/// The names of the files and folders of a run folder, a checkpoint folder and a model folder, in
/// one place. A run folder holds <see cref="Command"/>, <see cref="RunConfig"/>,
/// <see cref="Metrics"/>, <see cref="Plot"/> and the folders <see cref="ModelDirectory"/>,
/// <see cref="LastCheckpoint"/> and <see cref="BestCheckpoint"/>; a model folder holds
/// <see cref="ModelConfig"/>, <see cref="Weights"/> and the data files; a checkpoint folder holds
/// <see cref="Weights"/>, <see cref="OptimizerState"/>, <see cref="TrainerState"/>, copies of
/// the model folder's other files and, written last, <see cref="Manifest"/>. While a process trains
/// in a run folder it holds <see cref="Lock"/>.
/// </summary>
public static class RunFiles
{
    /// <summary>The command line that made the run.</summary>
    public const string Command = "command.txt";

    /// <summary>The run's settings (model, data and training).</summary>
    public const string RunConfig = "config.json";

    /// <summary>The per-step records.</summary>
    public const string Metrics = "metrics.jsonl";

    /// <summary>The loss curves.</summary>
    public const string Plot = "loss.png";

    /// <summary>
    /// The lock file: held open exclusively (FileShare.None, an OS lock the system drops when the
    /// process ends, however it ends) by the one process training in the folder; removed when it
    /// is done. Left behind by a killed process, it is simply taken over.
    /// </summary>
    public const string Lock = "run.lock";

    /// <summary>
    /// In <see cref="ModelDirectory"/> and every checkpoint: a copy of <see cref="RunConfig"/>, the
    /// settings the weights were trained with; a resume refuses a <see cref="RunConfig"/> that
    /// differs from its checkpoint's copy.
    /// </summary>
    public const string RunConfigCopy = "run_config.json";

    /// <summary>A checkpoint's list of its files and their SHA-256, written last: a checkpoint without it is not complete.</summary>
    public const string Manifest = "manifest.json";

    /// <summary>The latest checkpoint's folder.</summary>
    public const string LastCheckpoint = "last";

    /// <summary>The best checkpoint's folder (lowest validation loss).</summary>
    public const string BestCheckpoint = "best";

    /// <summary>
    /// The trained model's folder: its <see cref="ModelConfig"/> and data files (statistics,
    /// vocabulary), which every checkpoint copies, and once training ends the chosen weights
    /// (the best checkpoint's, else the last).
    /// </summary>
    public const string ModelDirectory = "model";

    /// <summary>A model's architecture beside its weights (<c>ModelConfig</c> as JSON).</summary>
    public const string ModelConfig = "config.json";

    /// <summary>The weights under their state-dict names, in model and checkpoint folders.</summary>
    public const string Weights = "model.safetensors";

    /// <summary>A checkpoint's optimizer state.</summary>
    public const string OptimizerState = "optimizer.safetensors";

    /// <summary>A checkpoint's trainer state (<see cref="Persistence.TrainerState"/>).</summary>
    public const string TrainerState = "trainer.json";

    /// <summary>A text model's vocabulary.</summary>
    public const string Vocabulary = "vocab.json";

    /// <summary>The normalization statistics of a CSV's feature columns.</summary>
    public const string FeatureStats = "feature_stats.json";

    /// <summary>The normalization statistics of a CSV's target columns.</summary>
    public const string TargetStats = "target_stats.json";
}
