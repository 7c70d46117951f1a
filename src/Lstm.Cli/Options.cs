using CommandLine;
using Lstm.Runtime.Devices;

namespace Lstm.Cli;

/// <summary><c>lstm devices</c>.</summary>
[Verb("devices", HelpText = "List the compute devices present on this machine.")]
public sealed class DevicesOptions
{
}

/// <summary><c>lstm run</c>.</summary>
[Verb("run", HelpText = "Run a PyTorch-trained LSTM, GRU or RNN (safetensors state dict) on an input tensor, optionally with sequence lengths.")]
public sealed class RunOptions
{
    /// <summary>The state dict.</summary>
    [Option("model", Required = true, HelpText = "safetensors file with an LSTM's, GRU's or RNN's weight_ih_l0, weight_hh_l0, ... (PyTorch names and shapes).")]
    public string Model { get; set; } = "";

    /// <summary>The input file.</summary>
    [Option("input", Required = true, HelpText = "safetensors file with tensor x, and optionally h0 [num_layers*D, batch, H_out] and c0 [num_layers*D, batch, hidden] (LSTM).")]
    public string Input { get; set; } = "";

    /// <summary>The output file.</summary>
    [Option("output", Required = true, HelpText = "safetensors file to write with output, h_n and (LSTM) c_n.")]
    public string Output { get; set; } = "";

    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;

    /// <summary>The arithmetic of float32 matrix products.</summary>
    [Option("precision", Default = PrecisionNames.Default, HelpText = "Float32 matrix products: fp32 (exact, the default), tf32 (PyTorch's allow_tf32), 3xtf32 (TF32 tensor cores at near-FP32 accuracy) or bf16; tensor cores on CUDA (compute capability 8.0+), the same rounding emulated elsewhere.")]
    public string Precision { get; set; } = PrecisionNames.Default;

    /// <summary>Whether x is [batch, seq, feature].</summary>
    [Option("batch-first", Default = false, HelpText = "x and output are [batch, seq_len, feature] (PyTorch's batch_first=True).")]
    public bool BatchFirst { get; set; }

    /// <summary>The cell type, where the state dict cannot tell it.</summary>
    [Option("cell", HelpText = "lstm, gru, rnn-tanh or rnn-relu; inferred from the state dict when omitted (an RNN's nonlinearity cannot be, so RNNs need it).")]
    public string? Cell { get; set; }

    /// <summary>Sequence lengths for a padded batch.</summary>
    [Option("lengths", HelpText = "Each sequence's length (padded batch, PyTorch's packed-sequence semantics): a tensor name in the input file, or a safetensors file holding 'lengths'.")]
    public string? Lengths { get; set; }
}

/// <summary><c>lstm selftest</c>.</summary>
[Verb("selftest", HelpText = "Check the kernels on a device against a float64 CPU reference and print the worst errors.")]
public sealed class SelfTestOptions
{
    /// <summary>The device.</summary>
    [Option("device", Default = ComputeDevice.Auto, HelpText = "auto, cuda[:N], opencl[:N], cpu or ilgpu-cpu.")]
    public string Device { get; set; } = ComputeDevice.Auto;
}
