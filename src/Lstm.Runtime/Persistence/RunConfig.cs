using System.Text.Json;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// A run's <c>config.json</c>: <c>{"format": 1, "model": {…}, "data": {…}, "training": {…}}</c>; the
/// model and training sections are the JSON of their own settings records, kept as written.
/// </summary>
/// <param name="Model">The model's settings.</param>
/// <param name="Data">Where the samples come from.</param>
/// <param name="Training">The training settings.</param>
public sealed record RunConfig(JsonObject Model, DataSpec Data, JsonObject Training)
{
    /// <summary>The version of the file's layout.</summary>
    public const int Format = 1;

    /// <summary>The file's text (indented JSON).</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["format"] = Format,
            ["model"] = Model.DeepClone(),
            ["data"] = DataJson(Data),
            ["training"] = Training.DeepClone(),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>The data section: the spec's fields that apply to its source (a task's sizes, or a file's columns and window).</summary>
    private static JsonObject DataJson(DataSpec data)
    {
        var json = (JsonObject)JsonSerializer.SerializeToNode(data, RunsJson.Default.DataSpec)!;
        string[] task = ["task", "seq_len", "train_samples", "validation_samples", "seed"];
        string[] csv = ["targets", "features", "horizon", "normalize", "difference", "target_mode", "missing", "test_fraction", "season"];
        string[] file = ["path", "path_from_run", "window", "val_fraction"];
        var drop = data.Source switch
        {
            "task" => csv.Concat(file),
            "csv" => task,
            _ => task.Concat(csv),
        };
        foreach (var key in drop)
            json.Remove(key);
        return json;
    }

    /// <summary>
    /// The training fields a resumed run may take from its current <c>config.json</c> rather than
    /// from its checkpoint: the devices and the batch's shards over them (<c>--devices</c>).
    /// </summary>
    public static readonly IReadOnlySet<string> ChangeableOnResume = new HashSet<string>(StringComparer.Ordinal) { "training.devices", "training.shards" };

    /// <summary>
    /// The fields (as <c>section.field</c>) whose values differ between this config and
    /// <paramref name="other"/>, with both values; numbers compare by value, and the fields of
    /// <see cref="ChangeableOnResume"/> are left out.
    /// </summary>
    /// <param name="other">The config to compare with.</param>
    /// <returns>Each differing field with this config's value and the other's (JSON text, or "absent").</returns>
    public IReadOnlyList<(string Field, string Mine, string Theirs)> Differences(RunConfig other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var mine = (JsonObject)JsonNode.Parse(ToJson())!;
        var theirs = (JsonObject)JsonNode.Parse(other.ToJson())!;
        var found = new List<(string, string, string)>();
        foreach (string section in new[] { "model", "data", "training" })
        {
            var a = mine[section] as JsonObject ?? [];
            var b = theirs[section] as JsonObject ?? [];
            foreach (string key in a.Select(p => p.Key).Union(b.Select(p => p.Key)).Order(StringComparer.Ordinal))
            {
                string field = $"{section}.{key}";
                if (ChangeableOnResume.Contains(field) || SameValue(a[key], b[key]))
                    continue;
                found.Add((field, Text(a, key), Text(b, key)));
            }
        }

        return found;
    }

    private static string Text(JsonObject section, string key) =>
        section.ContainsKey(key) ? section[key]?.ToJsonString() ?? "null" : "absent";

    private static bool SameValue(JsonNode? a, JsonNode? b)
    {
        if (a is JsonValue va && b is JsonValue vb && va.GetValueKind() == JsonValueKind.Number && vb.GetValueKind() == JsonValueKind.Number)
            return va.GetValue<double>().Equals(vb.GetValue<double>());
        if (a is JsonObject oa && b is JsonObject ob)
            return oa.Count == ob.Count && oa.All(p => ob.ContainsKey(p.Key) && SameValue(p.Value, ob[p.Key]));
        if (a is JsonArray aa && b is JsonArray ab)
            return aa.Count == ab.Count && aa.Zip(ab).All(p => SameValue(p.First, p.Second));
        return JsonNode.DeepEquals(a, b);
    }

    /// <summary>Reads a file written by <see cref="ToJson"/>.</summary>
    /// <param name="path">The file.</param>
    public static RunConfig Load(string path)
    {
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new LstmException($"{path}: not a JSON object");
            int format = root["format"]?.GetValue<int>() ?? 0;
            if (format != Format)
                throw new LstmException($"{path}: format {format}; this version reads format {Format}");
            var model = root["model"] as JsonObject ?? throw new LstmException($"{path}: no \"model\" section");
            var training = root["training"] as JsonObject ?? throw new LstmException($"{path}: no \"training\" section");
            var dataNode = root["data"] ?? throw new LstmException($"{path}: no \"data\" section");
            // Fields that do not apply to the source were left out: they take the defaults.
            var dataJson = dataNode as JsonObject ?? throw new LstmException($"{path}: the \"data\" section is not an object");
            var defaults = (JsonObject)JsonSerializer.SerializeToNode(new DataSpec(), RunsJson.Default.DataSpec)!;
            foreach (var (key, value) in defaults)
            {
                if (!dataJson.ContainsKey(key))
                    dataJson[key] = value?.DeepClone();
            }

            var data = dataJson.Deserialize(RunsJson.Default.DataSpec) ?? throw new LstmException($"{path}: the \"data\" section is null");
            if (data.Source != "task")
                data = data with { Task = null };
            return new RunConfig((JsonObject)model.DeepClone(), data, (JsonObject)training.DeepClone());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new LstmException($"{path}: not a run config: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{path}: cannot read: {e.Message}", e);
        }
    }
}
