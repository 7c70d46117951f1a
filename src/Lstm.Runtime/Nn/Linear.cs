using Lstm.Kernels.Gemm;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// <c>torch.nn.Linear</c>: y = x W^T + b, with <c>weight</c> [O, I] and <c>bias</c> [O],
/// initialized U(-1/√I, 1/√I) as PyTorch does.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Linear<T> : IDisposable where T : unmanaged
{
    /// <summary>Creates the layer.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="inFeatures">I.</param>
    /// <param name="outFeatures">O.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public Linear(ComputeDevice device, int inFeatures, int outFeatures, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new LstmException($"Linear sizes must be positive: in_features={inFeatures}, out_features={outFeatures}");
        Device = device;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var rng = new Random(seed);
        double bound = 1.0 / Math.Sqrt(inFeatures);
        var w = new T[(long)outFeatures * inFeatures];
        for (int i = 0; i < w.Length; i++)
            w[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        var b = new T[outFeatures];
        for (int i = 0; i < b.Length; i++)
            b[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        Weight = new Parameter<T>("weight", Tensor<T>.FromArray(device, w, outFeatures, inFeatures));
        Bias = new Parameter<T>("bias", Tensor<T>.FromArray(device, b, outFeatures));
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>I.</summary>
    public int InFeatures { get; }

    /// <summary>O.</summary>
    public int OutFeatures { get; }

    /// <summary>W: [O, I].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>b: [O].</summary>
    public Parameter<T> Bias { get; }

    /// <summary>The parameters in PyTorch's order: weight, bias.</summary>
    public IEnumerable<Parameter<T>> Parameters()
    {
        yield return Weight;
        yield return Bias;
    }

    /// <summary>y [N, O] = x [N, I] · W^T + b.</summary>
    /// <param name="x">[N, I] (or any slice of N·I elements, row-major).</param>
    /// <param name="rows">N.</param>
    public Tensor<T> Forward(Backends.BufferSlice<T> x, int rows)
    {
        var ops = Device.Ops<T>();
        var y = Tensor<T>.Zeros(Device, rows, OutFeatures);
        ops.Gemm(GemmShape.Dense(rows, OutFeatures, InFeatures, false, true), Num<T>.One, x, Weight.Value.Data, Num<T>.Zero, y.Data);
        ops.AddRowBias(OutFeatures, y.Data, Bias.Value.Data);
        return y;
    }

    /// <summary>Adds dW += dy^T x and db += Σ dy to the gradients and returns dx [N, I] = dy · W.</summary>
    /// <param name="x">The forward's input [N, I].</param>
    /// <param name="dy">d loss / d y, [N, O].</param>
    /// <param name="rows">N.</param>
    public Tensor<T> Backward(Backends.BufferSlice<T> x, Tensor<T> dy, int rows)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var ops = Device.Ops<T>();
        ops.Gemm(GemmShape.Dense(OutFeatures, InFeatures, rows, true, false), Num<T>.One, dy.Data, x, Num<T>.One, Weight.Grad.Data);
        ops.SumRows(rows, OutFeatures, dy.Data, Num<T>.One, Bias.Grad.Data);
        var dx = Tensor<T>.Zeros(Device, rows, InFeatures);
        ops.Gemm(GemmShape.Dense(rows, InFeatures, OutFeatures, false, false), Num<T>.One, dy.Data, Weight.Value.Data, Num<T>.Zero, dx.Data);
        return dx;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
    }
}
