using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Stochastic gradient descent, <c>torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov)</c>:
/// g = ∇p + wd·p; with μ ≠ 0, buf = g on the first step, else buf = μ·buf + (1 - dampening)·g,
/// and g = g + μ·buf (nesterov) or g = buf; p = p - lr·g. One fused kernel per parameter.
/// State: <c>momentum_buffer</c> (when μ ≠ 0).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged
{
    private static readonly string[] MomentumState = ["momentum_buffer"];

    /// <summary>SGD over parameters named by their own names.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="momentum">μ (≥ 0).</param>
    /// <param name="dampening">Dampening.</param>
    /// <param name="weightDecay">L2 weight decay (≥ 0).</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and no dampening, as in PyTorch).</param>
    public Sgd(IEnumerable<Parameter<T>> parameters, double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : this(ByOwnName(parameters), learningRate, momentum, dampening, weightDecay, nesterov)
    {
    }

    /// <summary>SGD over named parameters (names key the saved state).</summary>
    /// <param name="parameters">Names and parameters.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="momentum">μ (≥ 0).</param>
    /// <param name="dampening">Dampening.</param>
    /// <param name="weightDecay">L2 weight decay (≥ 0).</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0 and no dampening, as in PyTorch).</param>
    public Sgd(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (!(momentum >= 0) || !(weightDecay >= 0) || double.IsNaN(dampening))
            throw new LstmException($"SGD: momentum ({momentum}) and weight decay ({weightDecay}) must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new LstmException("SGD: nesterov momentum requires a momentum > 0 and zero dampening");
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>Dampening.</summary>
    public double Dampening { get; }

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    public override string Kind => "sgd";

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => Momentum != 0 ? MomentumState : [];

    /// <inheritdoc/>
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("momentum", Format(Momentum)), new("dampening", Format(Dampening)),
        new("weight_decay", Format(WeightDecay)), new("nesterov", Nesterov ? "true" : "false"),
    ];

    /// <inheritdoc/>
    protected override void Update(Parameter<T> parameter, long step, Func<string, Tensor<T>> state)
    {
        var ops = parameter.Value.Ops;
        var buffer = Momentum != 0 ? state("momentum_buffer").Data : (Backends.BufferSlice<T>?)null;
        ops.SgdUpdate(
            parameter.Value.Data, parameter.Grad.Data, buffer, Num<T>.From(LearningRate), Num<T>.From(Momentum),
            Num<T>.From(Dampening), Num<T>.From(WeightDecay), Nesterov, step == 1);
    }
}
