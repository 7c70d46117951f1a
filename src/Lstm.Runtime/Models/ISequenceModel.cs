using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>What a <see cref="ISequenceModel{T}"/> reads.</summary>
public enum SequenceInput
{
    /// <summary>x [B, T, I]: I real values per step.</summary>
    Values,

    /// <summary>tokens [B, T]: one class id per step, held as exact integers of T (an embedding looks them up).</summary>
    Tokens,
}

/// <summary>What a <see cref="ISequenceModel{T}"/> returns.</summary>
public enum SequenceOutput
{
    /// <summary>y [B, O]: one output per sequence, from its last state (sequence to one).</summary>
    LastStep,

    /// <summary>y [B·T, O]: one output per step, row b·T + t (sequence to sequence, language model).</summary>
    EveryStep,
}

/// <summary>
/// A trainable sequence model as a trainer sees it: named parameters (PyTorch state-dict names),
/// a forward pass to the head's output, a backward pass from its gradient, and the seed of its
/// dropout masks.
/// </summary>
/// <remarks>Dimension letters: B batch, T steps, I input features, O outputs per row.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public interface ISequenceModel<T> : IDisposable where T : unmanaged
{
    /// <summary>The device its parameters live on.</summary>
    ComputeDevice Device { get; }

    /// <summary>What <see cref="Forward"/> reads.</summary>
    SequenceInput Input { get; }

    /// <summary>What <see cref="Forward"/> returns.</summary>
    SequenceOutput Output { get; }

    /// <summary>O: values per output row (classes for a classifier or language model).</summary>
    int OutputSize { get; }

    /// <summary>
    /// The seed of the dropout masks drawn by the next training <see cref="Forward"/>; a trainer
    /// sets a new one before each step (without dropout it has no effect).
    /// </summary>
    ulong DropoutSeed { get; set; }

    /// <summary>Every parameter with its full state-dict name, in a fixed order.</summary>
    IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters();

    /// <summary>y from x; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
    /// <param name="x">[B, T, I] values or [B, T] tokens, as <see cref="Input"/> says.</param>
    /// <param name="training">True before a <see cref="Backward"/>; enables dropout.</param>
    /// <returns>[B, O] or [B·T, O], as <see cref="Output"/> says; the caller disposes it.</returns>
    Tensor<T> Forward(Tensor<T> x, bool training = false);

    /// <summary>Back-propagates d loss / d y through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">Shaped like the forward's y.</param>
    void Backward(Tensor<T> dy);

    /// <summary>Clears every parameter's gradient.</summary>
    void ZeroGrad();
}

/// <summary>
/// A sequence model that reads padded batches of sequences of different lengths, with PyTorch's
/// packed-sequence semantics: what lies past a sequence's length changes neither its output nor
/// any gradient.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IVariableLengthModel<T> : ISequenceModel<T> where T : unmanaged
{
    /// <summary>y from a padded batch; with <paramref name="training"/>, keeps what <see cref="ISequenceModel{T}.Backward"/> needs.</summary>
    /// <param name="x">[B, T, I] values or [B, T] tokens, as <see cref="ISequenceModel{T}.Input"/> says.</param>
    /// <param name="lengths">B lengths, each in [1, T].</param>
    /// <param name="training">True before a Backward; enables dropout.</param>
    /// <returns>[B, O], or [B·T, O] (rows past a length are the padding's and carry no meaning), as <see cref="ISequenceModel{T}.Output"/> says.</returns>
    Tensor<T> Forward(Tensor<T> x, IReadOnlyList<int> lengths, bool training = false);
}
