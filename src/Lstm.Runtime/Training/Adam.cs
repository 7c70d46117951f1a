using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Adam, <c>torch.optim.Adam(params, lr, betas, eps, weight_decay)</c>, and with
/// <c>decoupled</c> AdamW, <c>torch.optim.AdamW</c>: at step t,
/// p = (1 - lr·wd)·p (AdamW) or g = ∇p + wd·p (Adam); m = β1·m + (1 - β1)·g; v = β2·v + (1 - β2)·g²;
/// p = p - lr/(1 - β1^t) · m / (√v / √(1 - β2^t) + ε). One fused kernel per parameter.
/// State: <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Adam<T> : Optimizer<T> where T : unmanaged
{
    private static readonly string[] Moments = ["exp_avg", "exp_avg_sq"];

    /// <summary>Adam or AdamW over parameters named by their own names.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="learningRate">lr (PyTorch's default 1e-3).</param>
    /// <param name="beta1">β1 in [0, 1).</param>
    /// <param name="beta2">β2 in [0, 1).</param>
    /// <param name="eps">ε (≥ 0).</param>
    /// <param name="weightDecay">Weight decay (≥ 0): L2 for Adam, decoupled for AdamW.</param>
    /// <param name="decoupled">AdamW's decoupled weight decay.</param>
    public Adam(IEnumerable<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool decoupled = false)
        : this(ByOwnName(parameters), learningRate, beta1, beta2, eps, weightDecay, decoupled)
    {
    }

    /// <summary>Adam or AdamW over named parameters (names key the saved state).</summary>
    /// <param name="parameters">Names and parameters.</param>
    /// <param name="learningRate">lr (PyTorch's default 1e-3).</param>
    /// <param name="beta1">β1 in [0, 1).</param>
    /// <param name="beta2">β2 in [0, 1).</param>
    /// <param name="eps">ε (≥ 0).</param>
    /// <param name="weightDecay">Weight decay (≥ 0): L2 for Adam, decoupled for AdamW.</param>
    /// <param name="decoupled">AdamW's decoupled weight decay.</param>
    public Adam(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool decoupled = false)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
            throw new LstmException($"Adam: betas ({beta1}, {beta2}) must lie in [0, 1)");
        if (!(eps >= 0) || !(weightDecay >= 0))
            throw new LstmException($"Adam: eps ({eps}) and weight decay ({weightDecay}) must be ≥ 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        Decoupled = decoupled;
    }

    /// <summary>AdamW, <c>torch.optim.AdamW</c> (PyTorch's default weight decay 1e-2).</summary>
    /// <param name="parameters">Names and parameters.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="beta1">β1.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="eps">ε.</param>
    public static Adam<T> AdamW(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, double learningRate = 1e-3, double weightDecay = 1e-2, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) =>
        new(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>Weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    public override string Kind => Decoupled ? "adamw" : "adam";

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => Moments;

    /// <inheritdoc/>
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("beta1", Format(Beta1)), new("beta2", Format(Beta2)), new("eps", Format(Eps)), new("weight_decay", Format(WeightDecay)),
    ];

    /// <inheritdoc/>
    protected override void Update(Parameter<T> parameter, long step, Func<string, Tensor<T>> state)
    {
        double bias1 = 1 - Math.Pow(Beta1, step);
        double bias2 = 1 - Math.Pow(Beta2, step);
        parameter.Value.Ops.AdamUpdate(
            parameter.Value.Data, parameter.Grad.Data, state("exp_avg").Data, state("exp_avg_sq").Data,
            Num<T>.From(LearningRate / bias1), Num<T>.From(1 - Beta1), Num<T>.From(Beta2), Num<T>.From(1 - Beta2), Num<T>.From(Eps),
            Num<T>.From(Decoupled ? 0 : WeightDecay), Num<T>.From(Decoupled ? 1 - LearningRate * WeightDecay : 1),
            Num<T>.From(Math.Sqrt(bias2)));
    }
}
