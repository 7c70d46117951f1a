using CommandLine;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Training;

namespace Lstm.Cli;

/// <summary><c>lstm train</c>.</summary>
[Verb("train", HelpText = "Train an LSTM, GRU or RNN on a synthetic task, a CSV time series or a text file; writes a run folder (config, metrics, loss.png, checkpoints). With no options: an LSTM on the noisy-sine task.")]
public class TrainOptions : DataOptions
{
    /// <summary>The device (null: auto).</summary>
    [Option("device", HelpText = "auto (the default), cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string? Device { get; set; }

    /// <summary>The arithmetic of float32 matrix products (null: fp32).</summary>
    [Option("precision", HelpText = "Float32 matrix products: fp32 (exact, the default), tf32 (PyTorch's allow_tf32), 3xtf32 (near-FP32 accuracy on TF32 tensor cores) or bf16 (mixed precision: float32 master weights, bf16 products); tensor cores on CUDA (compute capability 8.0+), the same rounding emulated elsewhere. Recorded with the run.")]
    public string? Precision { get; set; }

    /// <summary>Data parallel: the devices.</summary>
    [Option("devices", HelpText = "Data-parallel training on these devices, comma-separated (e.g. cuda:0,cuda:1 or cpu,ilgpu-cpu; a name twice is two devices): each holds a replica and takes a shard of every batch. Instead of --device.")]
    public string? Devices { get; set; }

    /// <summary>Data parallel: rows of each batch per device.</summary>
    [Option("shards", HelpText = "With --devices: rows of each batch per device, comma-separated, summing to --batch-size (e.g. 24,8). Default: in proportion to each device's measured speed.")]
    public string? Shards { get; set; }

    /// <summary>One device per layer.</summary>
    [Option("placement", HelpText = "One device per layer, comma-separated (e.g. cpu,ilgpu-cpu): layer k runs on the k-th, as a pipeline over chunks of time steps; the embedding on the first, the head on the last. Instead of --device.")]
    public string? Placement { get; set; }

    /// <summary>Pipeline chunk length.</summary>
    [Option("chunk-steps", HelpText = "With --placement: time steps per pipeline chunk. Default ⌈T / (4·layers)⌉; bidirectional layers use the whole sequence.")]
    public int? ChunkSteps { get; set; }

    /// <summary>Only print the plan.</summary>
    [Option("dry-run", Default = false, HelpText = "Print the plan (which device runs what, memory per device, transfers per step) and exit without training or creating a run folder.")]
    public bool DryRun { get; set; }

    /// <summary>The recurrent cell.</summary>
    [Option("cell", HelpText = TrainingDefaults.Cell + " (the default), gru, rnn-tanh or rnn-relu.")]
    public string? Cell { get; set; }

    /// <summary>Layers.</summary>
    [Option("layers", HelpText = nameof(TrainHelp.Layers), ResourceType = typeof(TrainHelp))]
    public int? Layers { get; set; }

    /// <summary>Hidden size.</summary>
    [Option("hidden", HelpText = nameof(TrainHelp.Hidden), ResourceType = typeof(TrainHelp))]
    public int? Hidden { get; set; }

    /// <summary>Bidirectional layers.</summary>
    [Option("bidirectional", HelpText = "Bidirectional layers (not for text: generation reads left to right).")]
    public bool Bidirectional { get; set; }

    /// <summary>The kind of model trained on labelled sequences.</summary>
    [Option("kind", HelpText = "With labelled sequences: sequence-classifier (a label per sequence, the default) or sequence-labeller (a label per step, or with --loss ctc a label sequence per sequence). --loss ctc and --task label|ctc imply sequence-labeller.")]
    public string? Kind { get; set; }

    /// <summary>A labeller's loss.</summary>
    [Option("loss", HelpText = "Sequence labeller: ce (cross-entropy on each step's label, the default) or ctc (connectionist temporal classification: the label column holds each sequence's labels separated by spaces, unaligned; blank = class 0).")]
    public string? Loss { get; set; }

    /// <summary>Classifier pooling.</summary>
    [Option("pool", HelpText = "Sequence classifier: what the head reads: last (the last state of each direction), mean (the default) or max over each sequence's own steps.")]
    public string? Pool { get; set; }

    /// <summary>Classifier class weights.</summary>
    [Option("class-weights", HelpText = "Sequence classifier: balanced weighs each class's loss by N / (classes · its training sequences), for imbalanced labels. Default none.")]
    public string? ClassWeights { get; set; }

    /// <summary>Encoder-decoder attention.</summary>
    [Option("attention", HelpText = "Encoder-decoder: luong (the default: a bilinear score) or bahdanau (an additive score).")]
    public string? Attention { get; set; }

    /// <summary>Dropout between layers.</summary>
    [Option("dropout", HelpText = "Dropout on every layer's output but the last, in training. Default 0.")]
    public double? Dropout { get; set; }

    /// <summary>LSTM projection size.</summary>
    [Option("proj-size", HelpText = "LSTM only: project h to this size (PyTorch's proj_size). Default 0 (none).")]
    public int? ProjSize { get; set; }

    /// <summary>Embedding size of token models.</summary>
    [Option("embedding-dim", HelpText = nameof(TrainHelp.EmbeddingDim), ResourceType = typeof(TrainHelp))]
    public int? EmbeddingDim { get; set; }

    /// <summary>Steps.</summary>
    [Option("steps", HelpText = nameof(TrainHelp.Steps), ResourceType = typeof(TrainHelp))]
    public int? Steps { get; set; }

    /// <summary>Epochs.</summary>
    [Option("epochs", HelpText = "Train this many passes over the training set instead of --steps.")]
    public int? Epochs { get; set; }

    /// <summary>Batch size.</summary>
    [Option("batch-size", HelpText = nameof(TrainHelp.BatchSize), ResourceType = typeof(TrainHelp))]
    public int? BatchSize { get; set; }

    /// <summary>Optimizer.</summary>
    [Option("optimizer", HelpText = TrainingDefaults.Optimizer + " (the default), adamw or sgd.")]
    public string? Optimizer { get; set; }

    /// <summary>Learning rate.</summary>
    [Option("lr", HelpText = nameof(TrainHelp.LearningRate), ResourceType = typeof(TrainHelp))]
    public double? LearningRate { get; set; }

    /// <summary>Weight decay.</summary>
    [Option("weight-decay", HelpText = nameof(TrainHelp.WeightDecay), ResourceType = typeof(TrainHelp))]
    public double? WeightDecay { get; set; }

    /// <summary>SGD momentum.</summary>
    [Option("momentum", HelpText = "sgd: momentum. Default 0.")]
    public double? Momentum { get; set; }

    /// <summary>Schedule.</summary>
    [Option("schedule", HelpText = "Learning-rate schedule: " + TrainingDefaults.Schedule + " (the default), cosine, or step (×0.1 every --steps/3 steps).")]
    public string? Schedule { get; set; }

    /// <summary>Warm-up.</summary>
    [Option("warmup", HelpText = "Steps of linear learning-rate warm-up. Default 0.")]
    public int? Warmup { get; set; }

    /// <summary>Clipping.</summary>
    [Option("clip", HelpText = nameof(TrainHelp.Clip), ResourceType = typeof(TrainHelp))]
    public double? Clip { get; set; }

    /// <summary>--on-nonfinite.</summary>
    [Option("on-nonfinite", HelpText = "A step whose loss or gradient norm is NaN or infinite: stop (the default: last/ keeps the last finite state, exit 2; continue with --resume and a lower --lr) or skip (leave out its update and count it).")]
    public string? OnNonFinite { get; set; }

    /// <summary>Early stopping.</summary>
    [Option("patience", HelpText = "Stop after this many validations without a new best loss (0 = off). Default 0.")]
    public int? Patience { get; set; }

    /// <summary>Validation interval.</summary>
    [Option("validate-every", HelpText = "Validate every this many steps (and after the last). Default: a tenth of the steps.")]
    public int? ValidateEvery { get; set; }

    /// <summary>Checkpoint interval.</summary>
    [Option("checkpoint-every", HelpText = "Write last/ every this many steps (it is always written at the end; best/ on every new best). Default: as --validate-every.")]
    public int? CheckpointEvery { get; set; }

    /// <summary>Seed.</summary>
    [Option("seed", HelpText = nameof(TrainHelp.Seed), ResourceType = typeof(TrainHelp))]
    public int? Seed { get; set; }

    /// <summary>Run folder.</summary>
    [Option("out", HelpText = "The run folder to create. Default runs/<task-or-file>-<yyyyMMdd-HHmmss>.")]
    public string? Out { get; set; }

    /// <summary>Resume.</summary>
    [Option("resume", HelpText = "Continue the run in this folder from its last/ checkpoint, exactly as if it had not stopped (its settings are reused; only --lr, --clip, --on-nonfinite and the devices may change).")]
    public string? Resume { get; set; }

    /// <summary>Stop early on purpose.</summary>
    [Option("until-step", HelpText = "Stop after this many steps in all (writing last/); --resume continues later.")]
    public int? UntilStep { get; set; }

    /// <summary>Report interval.</summary>
    [Option("log-every", HelpText = "Plain output: a line every this many steps (and after the last), with the latest validation loss. Default: as --validate-every.")]
    public int? LogEvery { get; set; }

    /// <summary>Quiet.</summary>
    [Option("quiet", Default = false, HelpText = "Print only the end.")]
    public bool Quiet { get; set; }

    /// <summary>Extra weights file.</summary>
    [Option("save", HelpText = "Also write the trained model's state dict (PyTorch names) to this safetensors file.")]
    public string? Save { get; set; }
}

/// <summary><c>lstm plan</c>: <c>lstm train --dry-run</c> under a verb of its own.</summary>
[Verb("plan", HelpText = "Print the plan of a training run without running it: which device runs what (embedding, each layer, head), the memory each device needs and the bytes that cross between devices per step. Takes train's options.")]
public sealed class PlanOptions : TrainOptions
{
}

/// <summary><c>lstm eval</c>.</summary>
[Verb("eval", HelpText = "Evaluate a trained run on data: its own validation and test sets, or --csv/--text/--task. Forecasts: MSE, RMSE and MAE in original units beside the baselines (persistence, seasonal naive, training mean, linear AR) and the skill against the best; classes: cross-entropy (nats, bits), perplexity and accuracy.")]
public sealed class EvalOptions : DataOptions
{
    /// <summary>The run.</summary>
    [Option("run", Required = true, HelpText = "The run folder (its best/ checkpoint, else last/).")]
    public string Run { get; set; } = "";

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;

    /// <summary>Batch size.</summary>
    [Option("batch-size", Default = EvaluationSettings.DefaultBatchSize, HelpText = "Samples per forward pass.")]
    public int BatchSize { get; set; } = EvaluationSettings.DefaultBatchSize;

    /// <summary>Seed of a synthetic task's samples.</summary>
    [Option("seed", Default = EvaluationSettings.DefaultSeed, HelpText = "With --task: the seed of the evaluation samples.")]
    public int Seed { get; set; } = EvaluationSettings.DefaultSeed;

    /// <summary>Encoder-decoder beams.</summary>
    [Option("beam", Default = 1, HelpText = "Encoder-decoder: decode with beam search of this many beams (1, the default: greedy).")]
    public int Beam { get; set; } = 1;

    /// <summary>Per-window predictions file.</summary>
    [Option("output", HelpText = "Encoder-decoder: write source, reference and hypothesis per pair to this TSV file. Forecasts: also write each window's forecast beside the truth to this CSV file (set, row, timestamp where the data has one, then TARGET,TARGET_predicted; atomically).")]
    public string? Output { get; set; }
}

/// <summary><c>lstm predict</c>.</summary>
[Verb("predict", HelpText = "Forecast with a run trained on a CSV: the target column(s) at each of the --horizon rows after the file's last window, in original units.")]
public sealed class PredictOptions
{
    /// <summary>The run.</summary>
    [Option("run", Required = true, HelpText = "The run folder (its best/ checkpoint, else last/).")]
    public string Run { get; set; } = "";

    /// <summary>The series.</summary>
    [Option("csv", HelpText = "CSV with the run's columns; its last --window rows (plus --difference) are the input. Default: the file the run trained on.")]
    public string? Csv { get; set; }

    /// <summary>Output file.</summary>
    [Option("output", HelpText = "Also write the forecast to this CSV file (atomically): one row per step ahead, with the time column continued.")]
    public string? Output { get; set; }

    /// <summary>The time column.</summary>
    [Option("time-column", HelpText = "The column of times to continue over the forecast rows (evenly spaced numbers or dates). Default: the file's first column where it is such a column.")]
    public string? TimeColumn { get; set; }

    /// <summary>Hold out the last rows.</summary>
    [Option("holdout", HelpText = "Forecast from the window ending --horizon rows before the file's end and compare with those rows.")]
    public bool Holdout { get; set; }

    /// <summary>Plot file.</summary>
    [Option("plot", HelpText = "Draw the history, the forecast (and with --holdout the truth) into this PNG file (e.g. forecast.png).")]
    public string? Plot { get; set; }

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;
}

/// <summary><c>lstm generate</c>.</summary>
[Verb("generate", HelpText = "Generate text with a run trained on a text file.")]
public sealed class GenerateOptions
{
    /// <summary>The run.</summary>
    [Option("run", Required = true, HelpText = "The run folder (its best/ checkpoint, else last/).")]
    public string Run { get; set; } = "";

    /// <summary>Prompt.</summary>
    [Option("prompt", HelpText = "Text to start from (characters of the training text). Default: the training text's first character.")]
    public string? Prompt { get; set; }

    /// <summary>Length.</summary>
    [Option("length", Default = GenerationSettings.DefaultLength, HelpText = "Characters to generate after the prompt.")]
    public int Length { get; set; } = GenerationSettings.DefaultLength;

    /// <summary>Temperature.</summary>
    [Option("temperature", Default = GenerationSettings.DefaultTemperature, HelpText = "Sampling temperature: 0 always takes the likeliest character; higher is more varied.")]
    public double Temperature { get; set; } = GenerationSettings.DefaultTemperature;

    /// <summary>Seed.</summary>
    [Option("seed", Default = GenerationSettings.DefaultSeed, HelpText = "Seed of the sampling (the same seed gives the same text).")]
    public int Seed { get; set; } = GenerationSettings.DefaultSeed;

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;
}

/// <summary><c>lstm compare</c>.</summary>
[Verb("compare", HelpText = "Train an RNN, an LSTM and a GRU with the same budget and seed on one task and print parameters, final and best validation loss, time and steps/s.")]
public sealed class CompareOptions
{
    /// <summary>The task.</summary>
    [Option("task", Default = CellComparisonSettings.DefaultTask, HelpText = "sine, adding, copy or mackey-glass.")]
    public string Task { get; set; } = CellComparisonSettings.DefaultTask;

    /// <summary>T.</summary>
    [Option("seq-len", Default = CellComparisonSettings.DefaultSeqLen, HelpText = "The task's window, length or delay.")]
    public int SeqLen { get; set; } = CellComparisonSettings.DefaultSeqLen;

    /// <summary>Steps.</summary>
    [Option("steps", Default = CellComparisonSettings.DefaultSteps, HelpText = "Training steps of each model.")]
    public int Steps { get; set; } = CellComparisonSettings.DefaultSteps;

    /// <summary>Hidden size.</summary>
    [Option("hidden", Default = CellComparisonSettings.DefaultHidden, HelpText = "Hidden size of each model.")]
    public int Hidden { get; set; } = CellComparisonSettings.DefaultHidden;

    /// <summary>Layers.</summary>
    [Option("layers", Default = CellComparisonSettings.DefaultLayers, HelpText = "Layers of each model.")]
    public int Layers { get; set; } = CellComparisonSettings.DefaultLayers;

    /// <summary>Batch size.</summary>
    [Option("batch-size", Default = CellComparisonSettings.DefaultBatchSize, HelpText = "Samples per batch.")]
    public int BatchSize { get; set; } = CellComparisonSettings.DefaultBatchSize;

    /// <summary>Learning rate.</summary>
    [Option("lr", Default = CellComparisonSettings.DefaultLearningRate, HelpText = "Adam's learning rate.")]
    public double LearningRate { get; set; } = CellComparisonSettings.DefaultLearningRate;

    /// <summary>Seed.</summary>
    [Option("seed", Default = CellComparisonSettings.DefaultSeed, HelpText = "Seed of the samples, initialization and batch order (the same for all three).")]
    public int Seed { get; set; } = CellComparisonSettings.DefaultSeed;

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;
}
