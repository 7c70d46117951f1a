using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

public class LSTMTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(Devices))]
    public void Forward_Float32_MatchesFloat64Reference_AtOddSizes(string device)
    {
        var dev = TestDevices.Get(device);
        foreach (var (i, h, l, s, b) in new[] { (1, 1, 1, 1, 1), (3, 5, 3, 7, 2), (10, 20, 2, 9, 5) })
        {
            using var lstm = new LSTM<float>(dev, new LSTMOptions(i, h, l), seed: i + h);
            var ps = lstm.Parameters().ToDictionary(p => p.Name, p => Numerics.Widen(p.Value.ToArray()));
            var x = Numerics.RoundToFloat(Numerics.Uniform(new Random(s), s * b * i));
            using var tx = Tensor<float>.FromArray(dev, x.Select(v => (float)v).ToArray(), s, b, i);
            using var r = lstm.Forward(tx);
            var reference = LstmReference.Run(i, h, l, ps, x, null, null, s, b);
            Assert.True(Numerics.MaxAbsError(Numerics.Widen(r.Output.ToArray()), reference.Output) < 1e-5);
            Assert.True(Numerics.MaxAbsError(Numerics.Widen(r.HN.ToArray()), reference.HN) < 1e-5);
            Assert.True(Numerics.MaxAbsError(Numerics.Widen(r.CN.ToArray()), reference.CN) < 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Inference_AndTraining_GiveTheSameOutputs(string device)
    {
        var dev = TestDevices.Get(device);
        using var lstm = new LSTM<double>(dev, new LSTMOptions(3, 4, 2, BatchFirst: true), seed: 2);
        using var x = Tensor<double>.FromArray(dev, Numerics.Uniform(new Random(1), 2 * 5 * 3), 2, 5, 3);
        using var a = lstm.Forward(x);
        using var b = lstm.Forward(x, training: true);
        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        Assert.Equal(a.HN.ToArray(), b.HN.ToArray());
        Assert.Equal(a.CN.ToArray(), b.CN.ToArray());
        Assert.False(a.Training);
        Assert.Throws<InvalidOperationException>(() => lstm.Backward(a));
    }

    [Fact]
    public void Forward_WrongShapes_NameExpectedAndActual()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        using var lstm = new LSTM<float>(dev, new LSTMOptions(3, 4, 2));
        using var bad = Tensor<float>.Zeros(dev, 5, 2, 7);
        var e = Assert.Throws<LstmException>(() => lstm.Forward(bad));
        Assert.Contains("[5, 2, 7]", e.Message, StringComparison.Ordinal);
        Assert.Contains("input_size 3", e.Message, StringComparison.Ordinal);
        using var x = Tensor<float>.Zeros(dev, 5, 2, 3);
        using var h0 = Tensor<float>.Zeros(dev, 1, 2, 4);
        e = Assert.Throws<LstmException>(() => lstm.Forward(x, h0));
        Assert.Contains("h0 has shape [1, 2, 4]; expected [2, 2, 4]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Init_IsPyTorchsUniformBound_AndSeeded()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        using var a = new LSTM<double>(dev, new LSTMOptions(10, 25, 2), seed: 7);
        using var b = new LSTM<double>(dev, new LSTMOptions(10, 25, 2), seed: 7);
        double bound = 1.0 / Math.Sqrt(25);
        foreach (var (p, q) in a.Parameters().Zip(b.Parameters()))
        {
            var v = p.Value.ToArray();
            Assert.Equal(v, q.Value.ToArray());
            Assert.All(v, w => Assert.InRange(w, -bound, bound));
            Assert.True(v.Max() > 0.8 * bound && v.Min() < -0.8 * bound, $"{p.Name} does not fill U(-1/sqrt(H), 1/sqrt(H))");
        }
    }

    [Fact]
    public void InferLstm_FromGoldenStateDict_RecoversConfiguration()
    {
        var golden = GoldenCase.Load("a_seed_l2_bf");
        var (options, prefix) = StateDict.InferLstm(golden.File, batchFirst: true);
        Assert.Equal(new LSTMOptions(10, 20, 2, true, true), options);
        Assert.Equal("", prefix);
        var e = GoldenCase.Load("e_nobias_l2");
        Assert.False(StateDict.InferLstm(e.File, false).Options.Bias);
    }

    [Fact]
    public void InferLstm_RecoversBidirectionalAndProjection()
    {
        var c = GoldenCase.Load("c_bidir_l2_seqfirst");
        Assert.Equal(new LSTMOptions(16, 32, 2, true, false, Bidirectional: true), StateDict.InferLstm(c.File, false).Options);
        var d = GoldenCase.Load("d_proj8");
        Assert.Equal(new LSTMOptions(12, 24, 1, true, false, ProjSize: 8), StateDict.InferLstm(d.File, false).Options);
    }

    [Fact]
    public void InferGruAndRnn_FromGoldenStateDicts_AndLstmRejectsThem()
    {
        var g = GoldenCase.Load("h1_gru");
        Assert.Equal(new GRUOptions(6, 10, 1, true, false), StateDict.InferGru(g.File, false).Options);
        var r = GoldenCase.Load("h2_rnn_tanh");
        Assert.Equal(new RNNOptions(6, 10, 1, RnnNonlinearity.Relu, true, true, Bidirectional: false), StateDict.InferRnn(r.File, true, RnnNonlinearity.Relu).Options);
        var e = Assert.Throws<LstmException>(() => StateDict.InferLstm(g.File, false));
        Assert.Contains("a GRU, not an LSTM", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LstmException>(() => StateDict.InferGru(r.File, false));
        Assert.Contains("an RNN, not a GRU", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveThenLoad_GruStateDict_RoundTrips()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        using var a = new GRU<float>(dev, new GRUOptions(3, 4, 2, Bidirectional: true), seed: 1);
        string path = Path.Combine(Path.GetTempPath(), $"gru-{Guid.NewGuid():N}.safetensors");
        try
        {
            StateDict.Save(path, a.Parameters().Select(p => (p.Name, p)));
            var file = SafeTensorsFile.Read(path);
            Assert.Equal(new GRUOptions(3, 4, 2, true, false, Bidirectional: true), StateDict.InferGru(file, false).Options);
            using var b = new GRU<float>(dev, new GRUOptions(3, 4, 2, Bidirectional: true), seed: 2);
            StateDict.Load(b, file);
            foreach (var (p, q) in a.Parameters().Zip(b.Parameters()))
                Assert.Equal(p.Value.ToArray(), q.Value.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Options_RejectProjSizeNotBelowHidden()
    {
        var e = Assert.Throws<LstmException>(() => new LSTMOptions(3, 4, ProjSize: 4).Validate());
        Assert.Contains("proj_size=4", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadStateDict_ThrowsOnShapeMismatch()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        var golden = GoldenCase.Load("a_seed_l2_bf");
        using var wrong = new LSTM<float>(dev, new LSTMOptions(10, 21, 2));
        var e = Assert.Throws<LstmException>(() => StateDict.Load(wrong, golden.File));
        Assert.Contains("weight_ih_l0", e.Message, StringComparison.Ordinal);
        Assert.Contains("[84, 10]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[80, 10]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveThenLoad_StateDict_RoundTripsFloat64()
    {
        var dev = TestDevices.Get("ilgpu-cpu");
        using var a = new LSTM<double>(dev, new LSTMOptions(3, 4, 2), seed: 1);
        string path = Path.Combine(Path.GetTempPath(), $"lstm-{Guid.NewGuid():N}.safetensors");
        try
        {
            StateDict.Save(path, a.Parameters().Select(p => (p.Name, p)));
            var file = SafeTensorsFile.Read(path);
            Assert.All(file.Tensors, t => Assert.Equal(SafeTensorDType.F64, t.DType));
            using var b = new LSTM<double>(dev, new LSTMOptions(3, 4, 2), seed: 2);
            StateDict.Load(b, file);
            foreach (var (p, q) in a.Parameters().Zip(b.Parameters()))
                Assert.Equal(p.Value.ToArray(), q.Value.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
