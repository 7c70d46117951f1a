namespace Lstm.Runtime.Backends;

/// <summary>How <see cref="ILossOps{T}.CtcLoss"/> reads its input and scales its gradient.</summary>
[Flags]
public enum CtcFlags
{
    /// <summary>[T, B, C] input (PyTorch's layout), gradient scaled by the given scale alone, +∞ kept.</summary>
    None = 0,

    /// <summary>The input and gradient are [B, T, C].</summary>
    BatchFirst = Lstm.Kernels.CtcKernels.BatchFirst,

    /// <summary>Each row's gradient is divided by its target length (at least 1), as PyTorch's mean reduction.</summary>
    MeanOverTargetLength = Lstm.Kernels.CtcKernels.MeanOverTargetLength,

    /// <summary>A row no alignment can produce gets loss and gradient 0 (PyTorch's <c>zero_infinity=True</c>).</summary>
    ZeroInfinity = Lstm.Kernels.CtcKernels.ZeroInfinity,
}

/// <summary>PyTorch's <c>reduction</c> of the CTC loss.</summary>
public enum CtcReduction
{
    /// <summary>Each row's negative log-likelihood; the gradient is that of their sum.</summary>
    None,

    /// <summary>The mean over rows of each row's loss divided by its target length (at least 1): PyTorch's default.</summary>
    Mean,

    /// <summary>The sum of the rows' losses.</summary>
    Sum,
}
