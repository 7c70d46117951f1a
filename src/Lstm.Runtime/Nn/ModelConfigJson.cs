using System.Text.Json.Serialization;

namespace Lstm.Runtime.Nn;

/// <summary>The JSON shape of <see cref="ModelConfig"/>: every key optional, so a missing one gets a clear message.</summary>
internal sealed class ModelConfigJson
{
    public int? FormatVersion { get; set; }

    public string? Kind { get; set; }

    public string? Cell { get; set; }

    public int? InputSize { get; set; }

    public int? HiddenSize { get; set; }

    public int? NumLayers { get; set; }

    public bool? Bias { get; set; }

    public bool? Bidirectional { get; set; }

    public double? Dropout { get; set; }

    public int? ProjSize { get; set; }

    public int? OutputSize { get; set; }

    public int? VocabSize { get; set; }

    public int? EmbeddingDim { get; set; }

    public string? Pool { get; set; }

    public int? TargetVocabSize { get; set; }

    public string? Attention { get; set; }
}

/// <summary>Source-generated JSON for <c>config.json</c>: snake_case, indented, unknown keys rejected.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ModelConfigJson))]
internal sealed partial class ModelConfigJsonContext : JsonSerializerContext
{
}
