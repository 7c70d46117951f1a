using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>Plain stochastic gradient descent: p ← p - lr·∇p, as <c>torch.optim.SGD(params, lr)</c>.</summary>
/// <typeparam name="T">float or double.</typeparam>
/// <param name="parameters">The parameters to update.</param>
/// <param name="learningRate">lr.</param>
public sealed class Sgd<T>(IEnumerable<Parameter<T>> parameters, double learningRate) where T : unmanaged
{
    private readonly Parameter<T>[] _parameters = parameters.ToArray();

    /// <summary>lr.</summary>
    public double LearningRate { get; } = learningRate;

    /// <summary>Applies one update from the accumulated gradients.</summary>
    public void Step()
    {
        foreach (var p in _parameters)
            p.Value.Ops.Axpy(Num<T>.From(-LearningRate), p.Grad.Data, p.Value.Data);
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
            p.ZeroGrad();
    }
}
