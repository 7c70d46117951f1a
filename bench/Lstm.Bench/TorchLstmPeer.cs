using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Lstm.Runtime.Diagnostics;

namespace Lstm.Bench;

/// <summary>
/// PyTorch's <c>nn.LSTM</c> through TorchSharp (libtorch on the CPU), float32, batch_first, set up
/// and stepped as torch_lstm_bench.py does: inference under <c>no_grad</c>; a training step is
/// forward then <c>output.sum().backward()</c> with x requiring its gradient.
/// </summary>
/// <remarks>Dimension letters: B batch, T steps, I input size, H hidden size. x: [B, T, I].</remarks>
public sealed class TorchLstmPeer : IDisposable
{
    private readonly LSTM _lstm;
    private readonly Tensor _x;
    private readonly Tensor _xGrad;

    /// <summary>Builds the module and its input with the host's thread count.</summary>
    /// <param name="shape">The shape.</param>
    public TorchLstmPeer(LstmBenchShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        TorchNative.EnsureLoadable();
        torch.set_num_threads(Environment.ProcessorCount);
        torch.manual_seed(0);
        _lstm = nn.LSTM(shape.Input, shape.Hidden, shape.Layers, batchFirst: true);
        _x = torch.randn(shape.Batch, shape.Seq, shape.Input);
        _xGrad = _x.clone().requires_grad_(true);
    }

    /// <summary>libtorch's version string.</summary>
    public static string Version => torch.__version__;

    /// <summary>One forward pass without autograd.</summary>
    public void Inference()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        _ = _lstm.forward(_x);
    }

    /// <summary>One training step: forward, then backward of <c>output.sum()</c> (gradients accumulate, as in the script).</summary>
    public void TrainingStep()
    {
        using var scope = torch.NewDisposeScope();
        var (output, _, _) = _lstm.forward(_xGrad);
        output.sum().backward();
    }

    /// <summary>Frees the module and tensors.</summary>
    public void Dispose()
    {
        _xGrad.Dispose();
        _x.Dispose();
        _lstm.Dispose();
    }
}
