using Lstm.Runtime.Devices;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Tests;

/// <summary>
/// A test model with inter-layer dropout: batch-first <see cref="LSTM{T}"/> (L layers, dropout p)
/// and a <see cref="Linear{T}"/> on the top layer's last state, x [B, T, I] → y [B, O], so a
/// trainer's dropout seeds change its results.
/// </summary>
internal sealed class DropoutLstmModel<T> : ISequenceModel<T> where T : unmanaged
{
    private readonly LSTM<T> _lstm;
    private readonly Linear<T> _fc;
    private LSTMResult<T>? _last;

    public DropoutLstmModel(ComputeDevice device, int inputSize, int hiddenSize, int numLayers, int outputSize, double dropout, int seed)
    {
        _lstm = new LSTM<T>(device, new LSTMOptions(inputSize, hiddenSize, numLayers, BatchFirst: true, Dropout: dropout), seed);
        _fc = new Linear<T>(device, hiddenSize, outputSize, seed + 1);
    }

    public ComputeDevice Device => _lstm.Device;

    public SequenceInput Input => SequenceInput.Values;

    public SequenceOutput Output => SequenceOutput.LastStep;

    public int OutputSize => _fc.OutFeatures;

    public ulong DropoutSeed
    {
        get => _lstm.DropoutSeed;
        set => _lstm.DropoutSeed = value;
    }

    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() =>
        _lstm.Parameters().Select(p => ("lstm." + p.Name, p)).Concat(_fc.Parameters().Select(p => ("fc." + p.Name, p)));

    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        _last?.Dispose();
        _last = null;
        var result = _lstm.Forward(x, training: training);
        var y = _fc.Forward(Top(result), result.Batch);
        if (training)
            _last = result;
        else
            result.Dispose();
        return y;
    }

    public void Backward(Tensor<T> dy)
    {
        var forward = _last ?? throw new InvalidOperationException("Backward needs a training Forward");
        _last = null;
        using (forward)
        {
            using var dTop = _fc.Backward(Top(forward), dy, forward.Batch);
            int layers = _lstm.Options.NumLayers;
            long size = (long)forward.Batch * _lstm.Options.HiddenSize;
            using var dhn = Tensor<T>.Zeros(Device, layers, forward.Batch, _lstm.Options.HiddenSize);
            Device.Ops<T>().Copy(dTop.Data, dhn.Data.Slice((layers - 1) * size, size));
            using var grads = _lstm.Backward(forward, dHN: dhn);
        }
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    public void Dispose()
    {
        _last?.Dispose();
        _lstm.Dispose();
        _fc.Dispose();
    }

    private Backends.BufferSlice<T> Top(LSTMResult<T> result)
    {
        long size = (long)result.Batch * _lstm.Options.HiddenSize;
        return result.HN.Data.Slice((_lstm.Options.NumLayers - 1) * size, size);
    }
}
