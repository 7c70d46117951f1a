using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Every-step cross-entropy over variable-length batches counts only the steps within each
/// sample's length: targets past it (even ones that are no class) neither fail nor count, as any
/// per-step model (a sequence labeller) needs.
/// </summary>
public class VariableLengthLossTests
{
    /// <summary>Samples of lengths 1..4 with one value per step and a per-step target; past the length the target is 99.</summary>
    private sealed class PerStep(int count) : IVariableLengthDataset
    {
        public int Count => count;

        public int Steps => 4;

        public int InputSize => 1;

        public int TargetLength => 4;

        public int LengthOf(int index) => 1 + (index % 4);

        public void Fill(int index, Span<double> x, Span<double> y)
        {
            x.Clear();
            int length = LengthOf(index);
            for (int t = 0; t < 4; t++)
            {
                if (t < length)
                    x[t] = 0.25 * (index + t) - 1;
                y[t] = t < length ? (index + t) % 2 : 99;
            }
        }
    }

    /// <summary>A per-step linear model: logits of step t from x_t alone, every step's row returned.</summary>
    private sealed class StepLinear(ComputeDevice device) : IVariableLengthModel<double>
    {
        private readonly Linear<double> _fc = new(device, 1, 2, seed: 4);
        private Tensor<double>? _x;

        public ComputeDevice Device => device;

        public SequenceInput Input => SequenceInput.Values;

        public SequenceOutput Output => SequenceOutput.EveryStep;

        public int OutputSize => 2;

        public ulong DropoutSeed { get; set; }

        public Linear<double> Fc => _fc;

        public IEnumerable<(string Name, Parameter<double> Parameter)> NamedParameters() => _fc.Parameters().Select(p => ("fc." + p.Name, p));

        public Tensor<double> Forward(Tensor<double> x, bool training = false) => Forward(x, Enumerable.Repeat(x.Shape[1], x.Shape[0]).ToArray(), training);

        public Tensor<double> Forward(Tensor<double> x, IReadOnlyList<int> lengths, bool training = false)
        {
            _x?.Dispose();
            _x = Tensor<double>.FromArray(device, x.ToArray(), x.Shape[0] * x.Shape[1], 1);
            return _fc.Forward(_x.Data, x.Shape[0] * x.Shape[1]);
        }

        public void Backward(Tensor<double> dy)
        {
            using var dx = _fc.Backward(_x!.Data, dy, _x.Shape[0]);
        }

        public void ZeroGrad()
        {
            foreach (var p in _fc.Parameters())
                p.ZeroGrad();
        }

        public void Dispose()
        {
            _x?.Dispose();
            _fc.Dispose();
        }
    }

    [Fact]
    public void CrossEntropy_CountsOnlyStepsWithinEachLength()
    {
        var dev = TestDevices.Get("cpu");
        var data = new PerStep(10);
        using var model = new StepLinear(dev);
        using var trainer = new Trainer<double>(model, data, data, new TrainerOptions { Loss = LossKind.CrossEntropy, BatchSize = 4, ValidationBatchSize = 3, Steps = 1 });
        double loss = trainer.Validate();

        // By hand: the mean over every sample's own steps of -log softmax(W x + b)[y].
        var w = model.Fc.Weight.Value.ToArray();
        var b = model.Fc.Bias.Value.ToArray();
        double sum = 0;
        int count = 0;
        var x = new double[4];
        var y = new double[4];
        for (int i = 0; i < data.Count; i++)
        {
            data.Fill(i, x, y);
            for (int t = 0; t < data.LengthOf(i); t++)
            {
                double z0 = w[0] * x[t] + b[0], z1 = w[1] * x[t] + b[1];
                double max = Math.Max(z0, z1);
                double lse = max + Math.Log(Math.Exp(z0 - max) + Math.Exp(z1 - max));
                sum += lse - (y[t] == 0 ? z0 : z1);
                count++;
            }
        }

        Assert.Equal(sum / count, loss, 12);
        var result = trainer.Run();
        Assert.Equal(1, result.Steps);
    }
}
