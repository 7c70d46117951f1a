using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// GRU and RNN (tanh, relu) directions with variable lengths (rows of different lengths, unsorted,
/// one at full length, PyTorch's packed-sequence semantics) take the persistent loops on an ILGPU
/// device (here ILGPU's CPU accelerator with four multiprocessors and odd H), counted by
/// <see cref="PersistentLaunches"/>: the inference and training outputs, h_n, dx, dh0, every
/// parameter gradient and the weights and outputs after an optimizer step equal the step loop's bit
/// for bit, in one and two directions and stacked layers, with and without bias; a time-out falls
/// back to the step loop, still exact; in float64 the forward matches <see cref="NetworkReference"/>
/// and the gradients central finite differences.
/// </summary>
public sealed class PersistentGruRnnLengthsTests
{
    private readonly ComputeDevice _device = PersistentTestDevice.Get();

    [Theory]
    [InlineData("gru", false, true, new[] { 4, 7, 1, 3, 7 })]
    [InlineData("gru", true, false, new[] { 2, 7, 5, 5, 6 })]
    [InlineData("gru", true, true, new[] { 3, 0, 7, 1, 6 })]
    [InlineData("tanh", true, true, new[] { 4, 7, 1, 3, 7 })]
    [InlineData("tanh", false, false, new[] { 3, 0, 7, 1, 6 })]
    [InlineData("relu", false, true, new[] { 2, 7, 5, 5, 6 })]
    [InlineData("relu", true, false, new[] { 4, 7, 1, 3, 7 })]
    public void Lengths_EqualStepLoop_Bitwise(string cell, bool bidirectional, bool bias, int[] lengths)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(cell, bidirectional, bias, lengths);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(setup, wholeLoops: false);
        Assert.Equal(runs, launches.Runs);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        var persistent = Run(setup, wholeLoops: true);
        // Three forwards (inference, training, after the step) and one backward a direction.
        int dirs = bidirectional ? 2 : 1;
        Assert.Equal(runs + 3 * dirs, launches.Runs);
        Assert.Equal(backwardRuns + dirs, launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"{setup} on ilgpu-cpu", "persistent", "step by step");
    }

    [Theory]
    [InlineData("gru", false)]
    [InlineData("tanh", true)]
    [InlineData("relu", false)]
    public void StackedLayers_WithLengths_TakeThePersistentLoops_Bitwise(string cell, bool bidirectional)
    {
        const int layers = 2;
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(cell, bidirectional, true, [2, 6, 5, 1], Layers: layers, Steps: 6);
        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        var steps = Run(setup, wholeLoops: false);
        Assert.Equal(backwardRuns, launches.BackwardRuns);
        // Every layer fits the grid, so both passes run the layers one after the other as persistent launches.
        var persistent = Run(setup, wholeLoops: true);
        int dirs = bidirectional ? 2 : 1;
        Assert.Equal(runs + 3 * layers * dirs, launches.Runs);
        Assert.Equal(backwardRuns + layers * dirs, launches.BackwardRuns);
        BitwiseResults.AssertEqual(steps, persistent, $"{setup} with dropout on ilgpu-cpu", "persistent", "step by step");
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("tanh")]
    [InlineData("relu")]
    public void LostGroup_WithLengths_TimesOut_AndTheStepLoopGivesTheSameResult(string cell)
    {
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(cell, true, true, [3, 6, 1, 6, 0], Steps: 6);
        var steps = Run(setup, wholeLoops: false);
        long timeouts = launches.Timeouts, runs = launches.Runs;
        long backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        launches.SkipGroup = 2;
        launches.SpinLimit = 1 << 16;
        try
        {
            var fallen = Run(setup, wholeLoops: true);
            Assert.Equal(timeouts + 6, launches.Timeouts);
            Assert.Equal(runs, launches.Runs);
            Assert.Equal(backwardTimeouts + 2, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, $"{setup} after a persistent time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("tanh")]
    [InlineData("relu")]
    public void BackwardAlone_WithLengths_TimesOut_PutsDhBack(string cell)
    {
        // The forwards run whole; only the backward's grid loses a group, after the others began to update dh in place.
        var launches = PersistentLaunches.For(_device.Accelerator);
        var setup = new Setup(cell, false, true, [4, 7, 1, 3, 7]);
        var steps = Run(setup, wholeLoops: false);
        long runs = launches.Runs, backwardTimeouts = launches.BackwardTimeouts, backwardRuns = launches.BackwardRuns;
        try
        {
            var fallen = Run(setup, wholeLoops: true, beforeBackward: () =>
            {
                launches.SkipGroup = 1;
                launches.SpinLimit = 1 << 16;
            });
            Assert.Equal(runs + 2, launches.Runs);
            Assert.Equal(backwardTimeouts + 1, launches.BackwardTimeouts);
            Assert.Equal(backwardRuns, launches.BackwardRuns);
            BitwiseResults.AssertEqual(steps, fallen, $"{setup} after a backward time-out", "fallen back", "step by step");
        }
        finally
        {
            launches.SkipGroup = -1;
            launches.SpinLimit = PersistentLaunches.CpuSpinLimit;
        }
    }

    /// <summary>
    /// float64, lengths (unsorted, one full, one of a single step), both directions, on the persistent loops:
    /// the forward against <see cref="NetworkReference"/>, the gradients of x, h0 and every parameter
    /// against central finite differences of loss = Σ output·dy + Σ h_n·dhn (the perturbed losses by the step loop).
    /// </summary>
    [Theory]
    [InlineData("gru")]
    [InlineData("tanh")]
    [InlineData("relu")]
    public void Float64_Lengths_MatchTheReferenceAndFiniteDifferences(string cell)
    {
        const int input = 3, hidden = 7, steps = 5, batch = 4, dirs = 2;
        const double eps = 1e-6;
        int[] lengths = [2, 5, 1, 4];
        var launches = PersistentLaunches.For(_device.Accelerator);
        using var layer = Make<double>(cell, input, hidden, 1, true, true, 7);
        var rng = new Random(31);
        var x = Numerics.Uniform(rng, steps * batch * input);
        var h0 = Numerics.Uniform(rng, dirs * batch * hidden);
        var dy = Numerics.Uniform(rng, steps * batch * dirs * hidden);
        var dhn = Numerics.Uniform(rng, dirs * batch * hidden);
        var parameters = layer.Parameters().ToDictionary(p => p.Name, p => p.Value.ToArray());

        long runs = launches.Runs, backwardRuns = launches.BackwardRuns;
        layer.ZeroGrad();
        using var tx = Tensor<double>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<double>.FromArray(_device, h0, dirs, batch, hidden);
        using var result = layer.Forward(tx, th, training: true, lengths: lengths);
        using var tdy = Tensor<double>.FromArray(_device, dy, steps, batch, dirs * hidden);
        using var tdh = Tensor<double>.FromArray(_device, dhn, dirs, batch, hidden);
        using var grads = layer.Backward(result, tdy, tdh);
        Assert.Equal(runs + dirs, launches.Runs);
        Assert.Equal(backwardRuns + dirs, launches.BackwardRuns);

        var kind = cell switch { "gru" => RecurrentCell.Gru, "tanh" => RecurrentCell.RnnTanh, _ => RecurrentCell.RnnRelu };
        var options = new NetworkReferenceOptions { Cell = kind, InputSize = input, HiddenSize = hidden, Bidirectional = true };
        var reference = NetworkReference.Forward(options, parameters, x, steps, batch, h0, null, lengths);
        Assert.True(Numerics.MaxAbsError(result.Output.ToArray(), reference.Output) < 1e-12, "output");
        Assert.True(Numerics.MaxAbsError(result.HN.ToArray(), reference.HN) < 1e-12, "h_n");

        // The perturbed losses from the step loop, whose forward values the persistent one equals bit
        // for bit (above), so the check runs in seconds.
        layer.WholeLoops = false;

        double Loss()
        {
            using var r = layer.Forward(tx, th, lengths: lengths);
            return Dot(r.Output.ToArray(), dy) + Dot(r.HN.ToArray(), dhn);
        }

        void Check(string what, double analytic, Action<double> set, double keep)
        {
            set(keep + eps);
            double plus = Loss();
            set(keep - eps);
            double minus = Loss();
            set(keep);
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(analytic - numeric) / Math.Max(1.0, Math.Abs(numeric)) < 1e-7, $"{cell} {what}: analytic {analytic:E6} vs numeric {numeric:E6}");
        }

        foreach (var (name, tensor, values, analytic) in new[] { ("x", tx, x, grads.DX.ToArray()), ("h0", th, h0, grads.DH0.ToArray()) })
        {
            for (int i = 0; i < values.Length; i += 3)
            {
                int at = i;
                Check($"d{name}[{at}]", analytic[at], v => { values[at] = v; tensor.CopyFrom(values); }, values[at]);
            }
        }

        foreach (var p in layer.Parameters())
        {
            var values = p.Value.ToArray();
            var analytic = p.Grad.ToArray();
            foreach (int i in new SortedSet<int> { 0, values.Length - 1, rng.Next(values.Length), rng.Next(values.Length), rng.Next(values.Length) })
                Check($"{p.Name}[{i}]", analytic[i], v => { values[i] = v; p.Value.CopyFrom(values); }, values[i]);
        }
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }

    private RecurrentLayer<T> Make<T>(string cell, int input, int hidden, int layers, bool bias, bool bidirectional, int seed, double dropout = 0)
        where T : unmanaged =>
        cell == "gru"
            ? new GRU<T>(_device, new GRUOptions(input, hidden, layers, bias, Dropout: dropout, Bidirectional: bidirectional), seed: seed)
            : new RNN<T>(_device, new RNNOptions(input, hidden, layers, cell == "relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, bias,
                Dropout: dropout, Bidirectional: bidirectional), seed: seed);

    /// <summary>
    /// An inference forward, a training forward and its backward (from dy and dh_n), an Adam step on
    /// those gradients, then a training forward with the new weights: every result, gradient and weight by name.
    /// </summary>
    private Dictionary<string, float[]> Run(Setup setup, bool wholeLoops, Action? beforeBackward = null)
    {
        const int input = 6, hidden = 37;
        var (cell, bidirectional, bias, lengths, layers, steps) = setup;
        int batch = lengths.Length, dirs = bidirectional ? 2 : 1;
        var rng = new Random(batch * 1000 + hidden + steps);
        var x = BitwiseResults.Uniform(rng, steps * batch * input);
        var h0 = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        var dy = BitwiseResults.Uniform(rng, steps * batch * dirs * hidden);
        var dhn = BitwiseResults.Uniform(rng, layers * dirs * batch * hidden);
        using var layer = Make<float>(cell, input, hidden, layers, bias, bidirectional, 5, layers > 1 ? 0.25 : 0);
        layer.WholeLoops = wholeLoops;
        using var adam = new Adam<float>(layer.Parameters(), learningRate: 0.01);
        using var tx = Tensor<float>.FromArray(_device, x, steps, batch, input);
        using var th = Tensor<float>.FromArray(_device, h0, layers * dirs, batch, hidden);
        using var tdy = Tensor<float>.FromArray(_device, dy, steps, batch, dirs * hidden);
        using var tdhn = Tensor<float>.FromArray(_device, dhn, layers * dirs, batch, hidden);
        var all = new Dictionary<string, float[]>();
        using (var inference = layer.Forward(tx, th, training: false, lengths: lengths))
        {
            all["inference.output"] = inference.Output.ToArray();
            all["inference.h_n"] = inference.HN.ToArray();
        }

        adam.ZeroGrad();
        using (var r = layer.Forward(tx, th, training: true, lengths: lengths))
        {
            beforeBackward?.Invoke();
            using var g = layer.Backward(r, tdy, tdhn);
            all["output"] = r.Output.ToArray();
            all["h_n"] = r.HN.ToArray();
            all["dx"] = g.DX.ToArray();
            all["dh0"] = g.DH0.ToArray();
            foreach (var p in layer.Parameters())
                all["grad." + p.Name] = p.Grad.ToArray();
        }

        adam.Step();
        foreach (var p in layer.Parameters())
            all["stepped." + p.Name] = p.Value.ToArray();
        using (var after = layer.Forward(tx, th, training: true, lengths: lengths))
        {
            all["stepped.output"] = after.Output.ToArray();
            all["stepped.h_n"] = after.HN.ToArray();
        }

        return all;
    }

    /// <summary>One run's shape: the cell (gru, tanh, relu), each row's length (B = their count), L layers, T steps.</summary>
    private sealed record Setup(string Cell, bool Bidirectional, bool Bias, int[] Lengths, int Layers = 1, int Steps = 7)
    {
        public override string ToString() =>
            $"{Layers}-layer {Cell} H=37 lengths=[{string.Join(", ", Lengths)}] bidirectional={Bidirectional} bias={Bias}";
    }
}
