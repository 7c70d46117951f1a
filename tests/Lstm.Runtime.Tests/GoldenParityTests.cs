using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Lstm.Runtime.Tests;

/// <summary>
/// Parity with PyTorch's nn.LSTM on the golden cases it wrote. Outputs (output, h_n, c_n) are
/// compared by absolute error; gradients by the largest absolute error divided by the largest
/// absolute value of that gradient tensor (max-norm relative error).
/// </summary>
public class GoldenParityTests(ITestOutputHelper output)
{
    // The LSTM cases: a, b, e, f, g, i (the core), c (bidirectional) and d (proj_size).
    public static readonly string[] CoreCases = ["a_seed_l2_bf", "b_tiny", "e_nobias_l2", "f_long_T200", "g_seed_f64", "i_no_state_l2_bf", "c_bidir_l2_seqfirst", "d_proj8"];

    public static IEnumerable<object[]> Cases()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var c in CoreCases)
                yield return [device[0], c];
        }
    }

    // The GRU and RNN cases: h1 (GRU), h2 (RNN tanh).
    public static readonly string[] OtherCellCases = ["h1_gru", "h2_rnn_tanh"];

    public static IEnumerable<object[]> OtherCells()
    {
        foreach (var device in TestDevices.Names())
        {
            foreach (var c in OtherCellCases)
                yield return [device[0], c];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchPyTorch(string device, string caseName)
    {
        var golden = GoldenCase.Load(caseName);
        Assert.Equal("LSTM", golden.Mode);
        var dev = TestDevices.Get(device);
        var report = golden.IsFloat64 ? Run<double>(dev, golden) : Run<float>(dev, golden);
        Check(caseName, device, golden, report);
    }

    [Theory]
    [MemberData(nameof(OtherCells))]
    public void ForwardAndBackward_MatchPyTorch_GruAndRnn(string device, string caseName)
    {
        var golden = GoldenCase.Load(caseName);
        var dev = TestDevices.Get(device);
        var report = golden.IsFloat64 ? RunOther<double>(dev, golden) : RunOther<float>(dev, golden);
        Check(caseName, device, golden, report);
    }

    private void Check(string caseName, string device, GoldenCase golden, ParityReport report)
    {
        double outTol = golden.IsFloat64 ? 1e-12 : 1e-5;
        double gradTol = golden.IsFloat64 ? 1e-10 : 1e-4;
        output.WriteLine($"{caseName} on {device}: worst output abs error {report.WorstOutput:E2} ({report.WorstOutputName}), worst gradient max-norm relative error {report.WorstGrad:E2} ({report.WorstGradName})");
        foreach (var (name, err) in report.Outputs)
            Assert.True(err <= outTol, $"{caseName}: {name} max abs error {err:E2} > {outTol:E0}");
        foreach (var (name, err) in report.Grads)
            Assert.True(err <= gradTol, $"{caseName}: grad.{name} max-norm relative error {err:E2} > {gradTol:E0}");
    }

    internal sealed record ParityReport(List<(string Name, double Error)> Outputs, List<(string Name, double Error)> Grads)
    {
        public double WorstOutput => Outputs.Max(o => o.Error);

        public string WorstOutputName => Outputs.MaxBy(o => o.Error).Name;

        public double WorstGrad => Grads.Max(o => o.Error);

        public string WorstGradName => Grads.MaxBy(o => o.Error).Name;
    }

    internal static ParityReport RunOther<T>(ComputeDevice device, GoldenCase golden) where T : unmanaged
    {
        using var x = StateDict.ToTensor<T>(device, golden.File.Get("x"));
        using var h0 = golden.HasInitialState ? StateDict.ToTensor<T>(device, golden.File.Get("h0")) : null;
        using var dy = StateDict.ToTensor<T>(device, golden.File.Get("dy"));
        using var dhn = StateDict.ToTensor<T>(device, golden.File.Get("dhn"));
        RecurrentResult<T> result;
        RecurrentGradients<T> grads;
        IDisposable layer;
        IEnumerable<Parameter<T>> parameters;
        if (golden.Mode == "GRU")
        {
            var gru = new GRU<T>(device, new GRUOptions(golden.InputSize, golden.HiddenSize, golden.NumLayers, golden.Bias, golden.BatchFirst, Bidirectional: golden.Bidirectional));
            StateDict.Load(gru.Parameters().Select(p => (p.Name, p)), golden.File);
            result = gru.Forward(x, h0, training: true);
            grads = gru.Backward(result, dy, dhn);
            (layer, parameters) = (gru, gru.Parameters());
        }
        else
        {
            Assert.StartsWith("RNN_", golden.Mode, StringComparison.Ordinal);
            var act = golden.Mode == "RNN_RELU" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;
            var rnn = new RNN<T>(device, new RNNOptions(golden.InputSize, golden.HiddenSize, golden.NumLayers, act, golden.Bias, golden.BatchFirst, Bidirectional: golden.Bidirectional));
            StateDict.Load(rnn.Parameters().Select(p => (p.Name, p)), golden.File);
            result = rnn.Forward(x, h0, training: true);
            grads = rnn.Backward(result, dy, dhn);
            (layer, parameters) = (rnn, rnn.Parameters());
        }

        using (layer)
        using (result)
        using (grads)
        {
            Assert.Equal(golden.ParamNames, parameters.Select(p => p.Name));
            var outputs = new List<(string, double)>
            {
                ("output", Numerics.MaxAbsError(D(result.Output), golden.Get("output"))),
                ("h_n", Numerics.MaxAbsError(D(result.HN), golden.Get("h_n"))),
            };
            var gradErrors = new List<(string, double)> { ("x", Numerics.MaxRelativeToLargest(D(grads.DX), golden.Get("grad.x"))) };
            if (golden.HasInitialState)
                gradErrors.Add(("h0", Numerics.MaxRelativeToLargest(D(grads.DH0), golden.Get("grad.h0"))));
            foreach (var p in parameters)
                gradErrors.Add((p.Name, Numerics.MaxRelativeToLargest(D(p.Grad), golden.Get("grad." + p.Name))));
            return new ParityReport(outputs, gradErrors);
        }

        static double[] D(Tensor<T> t) => t.ToArray().Select(v => v switch { float f => f, double d => d, _ => double.NaN }).ToArray();
    }

    internal static ParityReport Run<T>(ComputeDevice device, GoldenCase golden) where T : unmanaged
    {
        var options = new LSTMOptions(golden.InputSize, golden.HiddenSize, golden.NumLayers, golden.Bias, golden.BatchFirst, Bidirectional: golden.Bidirectional, ProjSize: golden.ProjSize);
        using var lstm = new LSTM<T>(device, options);
        StateDict.Load(lstm, golden.File);
        Assert.Equal(golden.ParamNames, lstm.Parameters().Select(p => p.Name));
        using var x = StateDict.ToTensor<T>(device, golden.File.Get("x"));
        using var h0 = golden.HasInitialState ? StateDict.ToTensor<T>(device, golden.File.Get("h0")) : null;
        using var c0 = golden.HasInitialState ? StateDict.ToTensor<T>(device, golden.File.Get("c0")) : null;
        using var result = lstm.Forward(x, h0, c0, training: true);
        using var dy = StateDict.ToTensor<T>(device, golden.File.Get("dy"));
        using var dhn = StateDict.ToTensor<T>(device, golden.File.Get("dhn"));
        using var dcn = StateDict.ToTensor<T>(device, golden.File.Get("dcn"));
        using var grads = lstm.Backward(result, dy, dhn, dcn);

        static double[] D(Tensor<T> t) => t.ToArray().Select(v => v switch { float f => f, double d => d, _ => double.NaN }).ToArray();
        var outputs = new List<(string, double)>
        {
            ("output", Numerics.MaxAbsError(D(result.Output), golden.Get("output"))),
            ("h_n", Numerics.MaxAbsError(D(result.HN), golden.Get("h_n"))),
            ("c_n", Numerics.MaxAbsError(D(result.CN), golden.Get("c_n"))),
        };
        var gradErrors = new List<(string, double)> { ("x", Numerics.MaxRelativeToLargest(D(grads.DX), golden.Get("grad.x"))) };
        if (golden.HasInitialState)
        {
            gradErrors.Add(("h0", Numerics.MaxRelativeToLargest(D(grads.DH0), golden.Get("grad.h0"))));
            gradErrors.Add(("c0", Numerics.MaxRelativeToLargest(D(grads.DC0), golden.Get("grad.c0"))));
        }

        foreach (var p in lstm.Parameters())
            gradErrors.Add((p.Name, Numerics.MaxRelativeToLargest(D(p.Grad), golden.Get("grad." + p.Name))));
        return new ParityReport(outputs, gradErrors);
    }
}
