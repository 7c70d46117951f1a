using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Tests;

/// <summary>config.json: JSON round trips, snake_case keys, atomic files, and one clear message per bad value.</summary>
public class ModelConfigTests
{
    public static IEnumerable<object[]> Configs()
    {
        yield return [new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2)];
        yield return [new ModelConfig(ModelKind.SequenceToSequence, CellKind.Gru, 7, 9, 4, NumLayers: 3, Bias: false, Bidirectional: true, Dropout: 0.25)];
        yield return [new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2, NumLayers: 2, Bidirectional: true, ProjSize: 4, Dropout: 0.1)];
        yield return [new ModelConfig(ModelKind.SequenceToSequence, CellKind.RnnRelu, 1, 1, 1)];
        yield return [ModelConfig.LanguageModel(CellKind.RnnTanh, vocabSize: 65, embeddingDim: 16, hiddenSize: 32, numLayers: 2, dropout: 0.5)];
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void ToJson_FromJson_RoundTrips(ModelConfig config)
    {
        string json = config.ToJson();
        var back = ModelConfig.FromJson(json);
        Assert.Equal(config, back);
        Assert.Equal(json, back.ToJson());
    }

    [Fact]
    public void ToJson_UsesSnakeCaseNamesAndKebabCaseValues()
    {
        string json = ModelConfig.LanguageModel(CellKind.RnnRelu, 10, 4, 6).ToJson();
        foreach (string key in new[] { "\"format_version\": 1", "\"kind\": \"language-model\"", "\"cell\": \"rnn-relu\"", "\"input_size\": 4", "\"hidden_size\": 6", "\"num_layers\": 1", "\"bias\": true", "\"bidirectional\": false", "\"dropout\": 0", "\"proj_size\": 0", "\"output_size\": 10", "\"vocab_size\": 10", "\"embedding_dim\": 4" })
            Assert.Contains(key, json, StringComparison.Ordinal);
        string values = new ModelConfig(ModelKind.SequenceToSequence, CellKind.Gru, 2, 3, 1).ToJson();
        Assert.Contains("\"kind\": \"sequence-to-sequence\"", values, StringComparison.Ordinal);
        Assert.DoesNotContain("vocab_size", values, StringComparison.Ordinal);
        Assert.DoesNotContain("embedding_dim", values, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_FillsDefaultsOfOptionalKeys()
    {
        var c = ModelConfig.FromJson("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": 2, "hidden_size": 3, "output_size": 1}""");
        Assert.Equal(new ModelConfig(ModelKind.SequenceToOne, CellKind.Gru, 2, 3, 1), c);
        var lm = ModelConfig.FromJson("""{"format_version": 1, "kind": "language-model", "cell": "lstm", "hidden_size": 8, "vocab_size": 30, "embedding_dim": 5}""");
        Assert.Equal(ModelConfig.LanguageModel(CellKind.Lstm, 30, 5, 8), lm);
    }

    [Fact]
    public void SaveLoad_RoundTripsAtomically()
    {
        string dir = Directory.CreateTempSubdirectory("lstm-config-").FullName;
        try
        {
            string path = Path.Combine(dir, RunFiles.ModelConfig);
            var config = new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2, ProjSize: 2);
            File.WriteAllText(path, "old");
            ModelFolder.SaveConfig(path, config);
            Assert.Equal(config, ModelFolder.LoadConfig(path));
            Assert.Equal([path], Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static IEnumerable<object[]> BadConfigs()
    {
        var ok = new ModelConfig(ModelKind.SequenceToOne, CellKind.Lstm, 3, 5, 2);
        yield return [ok with { ProjSize = 2, Cell = CellKind.Gru }, "proj_size=2 is for cell lstm only"];
        yield return [ok with { ProjSize = 5 }, "proj_size=5 must be 0 (none) or in [1, hidden_size=5)"];
        yield return [ok with { ProjSize = -1 }, "proj_size=-1"];
        yield return [ok with { HiddenSize = 0 }, "hidden_size=0 must be positive"];
        yield return [ok with { InputSize = -2 }, "input_size=-2 must be positive"];
        yield return [ok with { OutputSize = 0 }, "output_size=0 must be positive"];
        yield return [ok with { NumLayers = 0 }, "num_layers=0 must be positive"];
        yield return [ok with { Dropout = 1 }, "dropout=1 must be in [0, 1)"];
        yield return [ok with { Dropout = double.NaN }, "dropout=NaN"];
        yield return [ok with { VocabSize = 7 }, "vocab_size=7 is for kind language-model only"];
        yield return [ok with { EmbeddingDim = 7 }, "embedding_dim=7 is for kind language-model only"];
        yield return [ok with { FormatVersion = 2 }, "format_version=2 is not supported"];
        yield return [ok with { Kind = (ModelKind)9 }, "kind=9 is not one of"];
        var lm = ModelConfig.LanguageModel(CellKind.Gru, 10, 4, 6);
        yield return [lm with { InputSize = 5 }, "input_size=5 must equal embedding_dim=4"];
        yield return [lm with { OutputSize = 9 }, "output_size=9 must equal vocab_size=10"];
        yield return [lm with { VocabSize = 0, OutputSize = 0 }, "vocab_size=0 must be positive"];
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Validate_ThrowsNamingTheFieldAndValue(ModelConfig config, string message)
    {
        var e = Assert.Throws<LstmException>(config.Validate);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"format_version": 1, "kind": "sequence-to-one", "cell": "lstmx", "input_size": 2, "hidden_size": 3, "output_size": 1}""", "cell 'lstmx' is not one of lstm, gru, rnn-tanh, rnn-relu")]
    [InlineData("""{"format_version": 1, "kind": "transformer", "cell": "gru", "input_size": 2, "hidden_size": 3, "output_size": 1}""", "kind 'transformer' is not one of")]
    [InlineData("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": 2, "hiden_size": 3, "output_size": 1}""", "hiden_size")]
    [InlineData("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": 2, "output_size": 1}""", "has no 'hidden_size'")]
    [InlineData("""{"kind": "sequence-to-one", "cell": "gru", "input_size": 2, "hidden_size": 3, "output_size": 1}""", "has no 'format_version'")]
    [InlineData("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": 2, "hidden_size": 3, "output_size": 1, "proj_size": 2}""", "proj_size=2 is for cell lstm only")]
    [InlineData("""{"format_version": 1, "kind": "sequence-to-one", "cell": "gru", "input_size": "two", "hidden_size": 3, "output_size": 1}""", "input_size")]
    [InlineData("""{"format_version": 1, "kind": """, "not a model configuration")]
    [InlineData("null", "the JSON is null")]
    public void FromJson_ThrowsNamingTheSourceAndProblem(string json, string message)
    {
        var e = Assert.Throws<LstmException>(() => ModelConfig.FromJson(json, "run/config.json"));
        Assert.StartsWith("run/config.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_NamesThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}", RunFiles.ModelConfig);
        var e = Assert.Throws<LstmException>(() => ModelFolder.LoadConfig(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }
}
