using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>SequenceNetwork save/load: config.json plus safetensors under PyTorch's names, bitwise round trips, clear messages on mismatch.</summary>
public sealed class SequenceNetworkCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-network-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static IEnumerable<object[]> Cases()
    {
        yield return ["cpu", new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2, NumLayers: 2, Bidirectional: true, ProjSize: 3, Dropout: 0.2)];
        yield return ["cpu", new ModelConfig(ModelKind.SequenceToSequence, CellKind.Gru, 3, 5, 2, Bias: false, Bidirectional: true)];
        yield return ["cpu", new ModelConfig(ModelKind.SequenceToOne, CellKind.RnnRelu, 3, 5, 1, NumLayers: 2)];
        yield return ["cpu", ModelConfig.LanguageModel(CellKind.RnnTanh, 7, 3, 5, numLayers: 2)];
        yield return ["ilgpu-cpu", ModelConfig.LanguageModel(CellKind.Lstm, 7, 3, 3, numLayers: 2, projSize: 2)];
        yield return ["ilgpu-cpu", new ModelConfig(ModelKind.SequenceToSequence, CellKind.Gru, 2, 3, 2, Bidirectional: true)];
    }

    private static Tensor<float> Input(ComputeDevice device, ModelConfig config, int batch, int steps, int seed)
    {
        var rng = new Random(seed);
        return config.Kind == ModelKind.LanguageModel
            ? Tensor<float>.FromArray(device, Enumerable.Range(0, batch * steps).Select(_ => (float)rng.Next(config.VocabSize)).ToArray(), batch, steps)
            : Tensor<float>.FromArray(device, Numerics.Uniform(rng, batch * steps * config.InputSize).Select(v => (float)v).ToArray(), batch, steps, config.InputSize);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SaveLoad_GivesTheSameOutputsBitwise(string device, ModelConfig config)
    {
        var dev = TestDevices.Get(device);
        using var model = new SequenceNetwork<float>(dev, config, seed: 21);
        using var x = Input(dev, config, 3, 4, 22);
        var expected = model.Forward(x).ToArray();
        ModelFolder.Save(_dir, model.Config, model.NamedParameters());
        Assert.Equal([Path.Combine(_dir, "config.json"), Path.Combine(_dir, "model.safetensors")], Directory.GetFiles(_dir).Order());

        var file = SafeTensorsFile.Read(Path.Combine(_dir, "model.safetensors"));
        Assert.Equal(model.NamedParameters().Select(p => p.Name), file.Tensors.Select(t => t.Name));
        Assert.Equal(config, ModelFolder.LoadConfig(Path.Combine(_dir, "config.json")));
        foreach (string path in new[] { _dir, Path.Combine(_dir, "config.json"), Path.Combine(_dir, "model.safetensors") })
        {
            using var loaded = SequenceNetwork<float>.Load(dev, path);
            Assert.Equal(config, loaded.Config);
            Assert.Equal(expected, loaded.Forward(x).ToArray());
        }
    }

    [Fact]
    public void NamedParameters_UsePyTorchModuleNames()
    {
        var dev = TestDevices.Get("cpu");
        using var lm = new SequenceNetwork<float>(dev, ModelConfig.LanguageModel(CellKind.Gru, 7, 3, 5) with { Bidirectional = true });
        Assert.Equal(
            ["embedding.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
             "gru.weight_ih_l0_reverse", "gru.weight_hh_l0_reverse", "gru.bias_ih_l0_reverse", "gru.bias_hh_l0_reverse", "fc.weight", "fc.bias"],
            lm.NamedParameters().Select(p => p.Name));
        Assert.Equal([7, 10], lm.Fc.Weight.Shape);
        using var rnn = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.RnnRelu, 3, 5, 2, Bias: false));
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight", "fc.bias"], rnn.NamedParameters().Select(p => p.Name));
        using var proj = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToSequence, CellKind.Lstm, 3, 5, 2, ProjSize: 2));
        Assert.Equal(["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm.weight_hr_l0", "fc.weight", "fc.bias"], proj.NamedParameters().Select(p => p.Name));
        Assert.Equal([2, 2], proj.Fc.Weight.Shape);
    }

    [Fact]
    public void Load_Float64Weights_IntoFloat32Model_ConvertsThem()
    {
        var dev = TestDevices.Get("cpu");
        var config = new ModelConfig(ModelKind.SequenceToOne, CellKind.Gru, 3, 5, 2);
        using var model = new SequenceNetwork<double>(dev, config, seed: 2);
        ModelFolder.Save(_dir, model.Config, model.NamedParameters());
        using var loaded = SequenceNetwork<float>.Load(dev, _dir);
        foreach (var ((_, a), (_, b)) in model.NamedParameters().Zip(loaded.NamedParameters()))
            Assert.Equal(a.Value.ToArray().Select(v => (float)v), b.Value.ToArray());
    }

    [Fact]
    public void Load_ShapeMismatch_NamesTheTensorAndBothShapes()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2));
        ModelFolder.Save(_dir, model.Config, model.NamedParameters());
        ModelFolder.SaveConfig(Path.Combine(_dir, "config.json"), new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 6, 2));
        var e = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, _dir));
        Assert.Contains("tensor 'lstm.weight_ih_l0' has shape [20, 3], but the sequence-to-one lstm model of", e.Message, StringComparison.Ordinal);
        Assert.Contains("expects [24, 3]", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OtherCell_NamesTheUnexpectedTensor()
    {
        var dev = TestDevices.Get("cpu");
        using var model = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.Gru, 3, 5, 2));
        ModelFolder.Save(_dir, model.Config, model.NamedParameters());
        ModelFolder.SaveConfig(Path.Combine(_dir, "config.json"), new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2));
        var e = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, _dir));
        Assert.Contains("tensor 'gru.weight_ih_l0' is not a parameter of the sequence-to-one lstm model", e.Message, StringComparison.Ordinal);
        Assert.Contains("it expects: lstm.weight_ih_l0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingTensor_NamesIt()
    {
        var dev = TestDevices.Get("cpu");
        var config = new ModelConfig(ModelKind.SequenceToOne, CellKind.RnnTanh, 3, 5, 2);
        using var model = new SequenceNetwork<float>(dev, config);
        ModelFolder.SaveConfig(Path.Combine(_dir, "config.json"), config);
        StateDict.Save(Path.Combine(_dir, "model.safetensors"), model.NamedParameters().Where(p => p.Name != "fc.bias"));
        var e = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, _dir));
        Assert.Contains("tensor 'fc.bias' of the sequence-to-one rnn-tanh model of", e.Message, StringComparison.Ordinal);
        Assert.Contains("is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFiles_SayWhichOne()
    {
        var dev = TestDevices.Get("cpu");
        var none = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, Path.Combine(_dir, "nothing")));
        Assert.Contains("no such model directory or file", none.Message, StringComparison.Ordinal);
        using var model = new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.Gru, 3, 5, 2));
        ModelFolder.Save(_dir, model.Config, model.NamedParameters());
        File.Delete(Path.Combine(_dir, "config.json"));
        var config = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, _dir));
        Assert.Contains("config.json: missing", config.Message, StringComparison.Ordinal);
        ModelFolder.SaveConfig(Path.Combine(_dir, "config.json"), new ModelConfig(ModelKind.SequenceToOne, CellKind.Gru, 3, 5, 2));
        File.Delete(Path.Combine(_dir, "model.safetensors"));
        var weights = Assert.Throws<LstmException>(() => SequenceNetwork<float>.Load(dev, _dir));
        Assert.Contains("model.safetensors: missing", weights.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_BadConfig_ThrowsNamingTheField()
    {
        var dev = TestDevices.Get("cpu");
        var e = Assert.Throws<LstmException>(() => new SequenceNetwork<float>(dev, new ModelConfig(ModelKind.SequenceToOne, CellKind.RnnTanh, 3, 5, 2, ProjSize: 2)));
        Assert.Contains("proj_size=2 is for cell lstm only", e.Message, StringComparison.Ordinal);
    }
}
