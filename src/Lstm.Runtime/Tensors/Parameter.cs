namespace Lstm.Runtime.Tensors;

/// <summary>A trainable tensor under its PyTorch state-dict name, with its gradient.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Parameter<T> : IDisposable where T : unmanaged
{
    /// <summary>Creates a parameter and a zeroed gradient of the same shape.</summary>
    /// <param name="name">The state-dict name, e.g. <c>weight_ih_l0</c>.</param>
    /// <param name="value">The values; the parameter takes ownership.</param>
    public Parameter(string name, Tensor<T> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Name = name;
        Value = value;
        Grad = Tensor<T>.Zeros(value.Device, value.Shape.ToArray());
    }

    /// <summary>The state-dict name.</summary>
    public string Name { get; }

    /// <summary>The values.</summary>
    public Tensor<T> Value { get; }

    /// <summary>The accumulated gradient (backward passes add to it; <see cref="ZeroGrad"/> clears it).</summary>
    public Tensor<T> Grad { get; }

    /// <summary>The shape.</summary>
    public IReadOnlyList<int> Shape => Value.Shape;

    /// <summary>Clears the gradient.</summary>
    public void ZeroGrad() => Grad.Clear();

    /// <inheritdoc/>
    public void Dispose()
    {
        Value.Dispose();
        Grad.Dispose();
    }
}
