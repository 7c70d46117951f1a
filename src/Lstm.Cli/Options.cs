using CommandLine;

namespace Lstm.Cli;

/// <summary><c>lstm devices</c>.</summary>
[Verb("devices", HelpText = "List the compute devices present on this machine.")]
public sealed class DevicesOptions
{
}

/// <summary><c>lstm run</c>.</summary>
[Verb("run", HelpText = "Run a PyTorch-trained LSTM (safetensors state dict) on an input tensor.")]
public sealed class RunOptions
{
    /// <summary>The state dict.</summary>
    [Option("model", Required = true, HelpText = "safetensors file with weight_ih_l0, weight_hh_l0, ... (PyTorch names and shapes).")]
    public string Model { get; set; } = "";

    /// <summary>The input file.</summary>
    [Option("input", Required = true, HelpText = "safetensors file with tensor x, and optionally h0 and c0 [num_layers, batch, hidden].")]
    public string Input { get; set; } = "";

    /// <summary>The output file.</summary>
    [Option("output", Required = true, HelpText = "safetensors file to write with output, h_n and c_n.")]
    public string Output { get; set; } = "";

    /// <summary>The device.</summary>
    [Option("device", Default = "auto", HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = "auto";

    /// <summary>Whether x is [batch, seq, feature].</summary>
    [Option("batch-first", Default = false, HelpText = "x and output are [batch, seq_len, feature] (PyTorch's batch_first=True).")]
    public bool BatchFirst { get; set; }
}

/// <summary><c>lstm train</c>.</summary>
[Verb("train", HelpText = "Train the seed's LSTMModel (LSTM + Linear) on the built-in noisy-sine task and print the loss as it falls.")]
public sealed class TrainOptions
{
    /// <summary>The device.</summary>
    [Option("device", Default = "auto", HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = "auto";

    /// <summary>Training steps.</summary>
    [Option("steps", Default = 200, HelpText = "Training steps (one batch each).")]
    public int Steps { get; set; } = 200;

    /// <summary>Batch size.</summary>
    [Option("batch-size", Default = 16, HelpText = "Sequences per batch.")]
    public int BatchSize { get; set; } = 16;

    /// <summary>Window length.</summary>
    [Option("seq-len", Default = 20, HelpText = "Steps per input window.")]
    public int SeqLen { get; set; } = 20;

    /// <summary>Hidden size.</summary>
    [Option("hidden", Default = 20, HelpText = "Hidden size of the LSTM.")]
    public int Hidden { get; set; } = 20;

    /// <summary>Layers.</summary>
    [Option("layers", Default = 2, HelpText = "Stacked LSTM layers.")]
    public int Layers { get; set; } = 2;

    /// <summary>Learning rate.</summary>
    [Option("lr", Default = 0.5, HelpText = "SGD learning rate.")]
    public double LearningRate { get; set; } = 0.5;

    /// <summary>Seed.</summary>
    [Option("seed", Default = 1, HelpText = "Seed of the initialization and the data.")]
    public int Seed { get; set; } = 1;

    /// <summary>Report interval.</summary>
    [Option("log-every", Default = 20, HelpText = "Print the loss every this many steps.")]
    public int LogEvery { get; set; } = 20;

    /// <summary>Where to save the trained weights.</summary>
    [Option("save", HelpText = "Write the trained model's state dict (lstm.*, fc.*) to this safetensors file.")]
    public string? Save { get; set; }
}

/// <summary><c>lstm selftest</c>.</summary>
[Verb("selftest", HelpText = "Check the kernels on a device against a float64 CPU reference and print the worst errors.")]
public sealed class SelfTestOptions
{
    /// <summary>The device.</summary>
    [Option("device", Default = "auto", HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = "auto";
}
