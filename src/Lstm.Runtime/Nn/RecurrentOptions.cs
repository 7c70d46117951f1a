using Lstm.Runtime.Recurrent;

namespace Lstm.Runtime.Nn;

/// <summary>The activation of a plain RNN cell (PyTorch's <c>nonlinearity</c>).</summary>
public enum RnnNonlinearity
{
    /// <summary>tanh (PyTorch's default, mode RNN_TANH).</summary>
    Tanh,

    /// <summary>max(x, 0) (mode RNN_RELU).</summary>
    Relu,
}

/// <summary>The configuration of an <see cref="LSTM{T}"/>: <c>torch.nn.LSTM</c>'s arguments in its order.</summary>
/// <param name="InputSize">I: features of x.</param>
/// <param name="HiddenSize">H: features of c (and of h without a projection).</param>
/// <param name="NumLayers">Stacked layers; layer k &gt; 0 reads layer k-1's output (D·H_out features).</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">True: x and output are [B, T, ·]; false: [T, B, ·]. h and c are [L·D, B, ·] either way.</param>
/// <param name="Dropout">p in [0, 1): dropout on the output of every layer but the last, in training only; the mask is keyed by (<c>DropoutSeed</c>, layer index, element index in the layer's seq-first output).</param>
/// <param name="Bidirectional">True adds a reverse direction (D = 2): outputs [fwd, bwd] on the feature axis, parameters with the <c>_reverse</c> suffix.</param>
/// <param name="ProjSize">P &gt; 0 projects h = (o ⊙ tanh c) W_hr^T with <c>weight_hr_l{k}</c> [P, H]: h is [B, P]; 0 for none. Must be below H.</param>
public sealed record LSTMOptions(int InputSize, int HiddenSize, int NumLayers = 1, bool Bias = true, bool BatchFirst = false, double Dropout = 0, bool Bidirectional = false, int ProjSize = 0)
{
    /// <summary>Throws <see cref="LstmException"/> when a size is not positive, dropout is not in [0, 1) or proj_size is out of range.</summary>
    public void Validate() => RecurrentOptions.Validate("LSTM", InputSize, HiddenSize, NumLayers, Dropout, ProjSize);

    internal RecurrentConfig ToConfig() => new(InputSize, HiddenSize, NumLayers, Bias, BatchFirst, Bidirectional, ProjSize, Dropout);
}

/// <summary>The configuration of a <see cref="GRU{T}"/>: <c>torch.nn.GRU</c>'s arguments in its order.</summary>
/// <param name="InputSize">I: features of x.</param>
/// <param name="HiddenSize">H: features of h.</param>
/// <param name="NumLayers">Stacked layers; layer k &gt; 0 reads layer k-1's output (D·H features).</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">True: x and output are [B, T, ·]; false: [T, B, ·]. h is [L·D, B, H] either way.</param>
/// <param name="Dropout">p in [0, 1): dropout on the output of every layer but the last, in training only (as for <see cref="LSTMOptions"/>).</param>
/// <param name="Bidirectional">True adds a reverse direction (D = 2).</param>
public sealed record GRUOptions(int InputSize, int HiddenSize, int NumLayers = 1, bool Bias = true, bool BatchFirst = false, double Dropout = 0, bool Bidirectional = false)
{
    /// <summary>Throws <see cref="LstmException"/> when a size is not positive or dropout is not in [0, 1).</summary>
    public void Validate() => RecurrentOptions.Validate("GRU", InputSize, HiddenSize, NumLayers, Dropout, 0);

    internal RecurrentConfig ToConfig() => new(InputSize, HiddenSize, NumLayers, Bias, BatchFirst, Bidirectional, 0, Dropout);
}

/// <summary>The configuration of an <see cref="RNN{T}"/>: <c>torch.nn.RNN</c>'s arguments in its order.</summary>
/// <param name="InputSize">I: features of x.</param>
/// <param name="HiddenSize">H: features of h.</param>
/// <param name="NumLayers">Stacked layers; layer k &gt; 0 reads layer k-1's output (D·H features).</param>
/// <param name="Nonlinearity">tanh (PyTorch's default) or relu.</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">True: x and output are [B, T, ·]; false: [T, B, ·]. h is [L·D, B, H] either way.</param>
/// <param name="Dropout">p in [0, 1): dropout on the output of every layer but the last, in training only (as for <see cref="LSTMOptions"/>).</param>
/// <param name="Bidirectional">True adds a reverse direction (D = 2).</param>
public sealed record RNNOptions(int InputSize, int HiddenSize, int NumLayers = 1, RnnNonlinearity Nonlinearity = RnnNonlinearity.Tanh, bool Bias = true, bool BatchFirst = false, double Dropout = 0, bool Bidirectional = false)
{
    /// <summary>Throws <see cref="LstmException"/> when a size is not positive, dropout is not in [0, 1) or the nonlinearity is unknown.</summary>
    public void Validate()
    {
        RecurrentOptions.Validate("RNN", InputSize, HiddenSize, NumLayers, Dropout, 0);
        if (!Enum.IsDefined(Nonlinearity))
            throw new LstmException($"unknown RNN nonlinearity {(int)Nonlinearity}: expected tanh or relu");
    }

    internal RecurrentConfig ToConfig() => new(InputSize, HiddenSize, NumLayers, Bias, BatchFirst, Bidirectional, 0, Dropout);
}

/// <summary>The rules every recurrent layer's options follow, in one place.</summary>
public static class RecurrentOptions
{
    /// <summary>Throws <see cref="LstmException"/> naming the first rule a layer's options break.</summary>
    /// <param name="layer">The layer's name in the message (LSTM, GRU, RNN).</param>
    /// <param name="inputSize">input_size, at least 1.</param>
    /// <param name="hiddenSize">hidden_size, at least 1.</param>
    /// <param name="numLayers">num_layers, at least 1.</param>
    /// <param name="dropout">dropout, in [0, 1).</param>
    /// <param name="projSize">proj_size: 0 or in [1, hidden_size).</param>
    public static void Validate(string layer, int inputSize, int hiddenSize, int numLayers, double dropout, int projSize)
    {
        if (inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0)
            throw new LstmException($"{layer} sizes must be positive: input_size={inputSize}, hidden_size={hiddenSize}, num_layers={numLayers}");
        if (!(dropout >= 0 && dropout < 1))
            throw new LstmException($"{layer} dropout={dropout} must be in [0, 1)");
        if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize))
            throw new LstmException($"{layer} proj_size={projSize} must be 0 (none) or in [1, hidden_size={hiddenSize})");
    }
}
