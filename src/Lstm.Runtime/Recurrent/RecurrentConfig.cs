using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>The sizes and flags every recurrent layer shares (the loop's view of the options records, which validated them).</summary>
/// <param name="InputSize">I.</param>
/// <param name="HiddenSize">H.</param>
/// <param name="NumLayers">L.</param>
/// <param name="Bias">False drops b_ih and b_hh.</param>
/// <param name="BatchFirst">x and output are [B, T, ·] when true.</param>
/// <param name="Bidirectional">D = 2 when true.</param>
/// <param name="ProjSize">P (LSTM only), 0 for none.</param>
/// <param name="Dropout">p of the dropout on every layer's output but the last (training only).</param>
internal sealed record RecurrentConfig(int InputSize, int HiddenSize, int NumLayers, bool Bias, bool BatchFirst, bool Bidirectional, int ProjSize, double Dropout = 0)
{
    /// <summary>D: 1 or 2 directions.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>H_out: P when projecting, else H (the width of h and of each direction's output).</summary>
    public int HiddenOutputSize => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>The input width of layer k: I, then D·H_out.</summary>
    public int LayerInput(int k) => k == 0 ? InputSize : Directions * HiddenOutputSize;
}

/// <summary>The parameters of one direction of one layer.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionParameters<T> where T : unmanaged
{
    /// <summary>W_ih [G, I_k].</summary>
    public required Parameter<T> WeightIh { get; init; }

    /// <summary>W_hh [G, H_out].</summary>
    public required Parameter<T> WeightHh { get; init; }

    /// <summary>b_ih [G], or null for bias=False.</summary>
    public Parameter<T>? BiasIh { get; init; }

    /// <summary>b_hh [G], or null for bias=False.</summary>
    public Parameter<T>? BiasHh { get; init; }

    /// <summary>W_hr [P, H] with proj_size, else null.</summary>
    public Parameter<T>? WeightHr { get; init; }

    /// <summary>In PyTorch's state-dict order: w_ih, w_hh, b_ih, b_hh, w_hr.</summary>
    public IEnumerable<Parameter<T>> All()
    {
        yield return WeightIh;
        yield return WeightHh;
        if (BiasIh is { } bih)
            yield return bih;
        if (BiasHh is { } bhh)
            yield return bhh;
        if (WeightHr is { } whr)
            yield return whr;
    }
}
