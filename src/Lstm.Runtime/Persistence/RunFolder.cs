using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lstm.Runtime.Data;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// A training run's folder: <c>command.txt</c> (the command line that made it), <c>config.json</c>
/// (model, data and training settings), <c>metrics.jsonl</c> (one record per step),
/// <c>loss.png</c>, the data files a model needs (statistics, vocabulary) and the checkpoints
/// <c>last/</c> and <c>best/</c>. Every file is written atomically.
/// </summary>
public sealed class RunFolder
{
    private readonly string? _createdParent;

    private RunFolder(string path, string? createdParent = null)
    {
        Path = path;
        _createdParent = createdParent;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>The default folder of a new run: <c>runs/&lt;name&gt;-&lt;yyyyMMdd-HHmmss&gt;</c> under the current directory.</summary>
    /// <param name="name">The task or data file's name.</param>
    /// <param name="now">The time stamp.</param>
    public static string DefaultPath(string name, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(name);
        var safe = new string(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        return System.IO.Path.Combine("runs", $"{(safe.Length == 0 ? "run" : safe)}-{now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
    }

    /// <summary>Throws unless a new run can be made at <paramref name="path"/> (absent, or an empty folder); creates nothing.</summary>
    /// <param name="path">The folder.</param>
    public static void CheckNew(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path))
            throw new LstmException($"--out {path}: is a file");
        if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any())
            throw new LstmException($"--out {path}: the folder exists and is not empty (resume a run with --resume {path})");
    }

    /// <summary>Creates the folder of a new run (see <see cref="CheckNew"/>).</summary>
    /// <param name="path">The folder.</param>
    public static RunFolder Create(string path)
    {
        CheckNew(path);
        string? parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        bool parentExisted = parent is null || Directory.Exists(parent);
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"--out {path}: cannot create the folder: {e.Message}", e);
        }

        return new RunFolder(path, parentExisted ? null : parent);
    }

    /// <summary>Opens an existing run's folder (it must hold a <c>config.json</c>).</summary>
    /// <param name="path">The folder.</param>
    /// <param name="option">The option that named it, for messages.</param>
    public static RunFolder Open(string path, string option = "--run")
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path))
            throw new LstmException($"{option} {path}: no such folder");
        if (!File.Exists(System.IO.Path.Combine(path, RunFiles.RunConfig)))
            throw new LstmException($"{option} {path}: not a run folder (no {RunFiles.RunConfig})");
        return new RunFolder(path);
    }

    /// <summary>A file or folder of the run.</summary>
    /// <param name="name">Its name.</param>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// The folder to use the trained model from: <c>model/</c> once training has ended, else the
    /// <c>best/</c> checkpoint, else <c>last/</c>.
    /// </summary>
    public string TrainedModel()
    {
        foreach (var name in new[] { RunFiles.ModelDirectory, RunFiles.BestCheckpoint, RunFiles.LastCheckpoint })
        {
            if (File.Exists(System.IO.Path.Combine(this[name], RunFiles.Weights)))
                return this[name];
        }

        throw new LstmException($"{Path}: no trained weights yet ({RunFiles.ModelDirectory}/, {RunFiles.BestCheckpoint}/ and {RunFiles.LastCheckpoint}/ hold no {RunFiles.Weights})");
    }

    /// <summary>Whether a checkpoint (<c>last/</c> or <c>best/</c>) has been written.</summary>
    public bool HasCheckpoint => Directory.Exists(this[RunFiles.LastCheckpoint]) || Directory.Exists(this[RunFiles.BestCheckpoint]);

    /// <summary>
    /// Deletes a new run's folder (bad settings found before its first checkpoint), and the folder
    /// above it when <see cref="Create"/> made that too and it is now empty.
    /// </summary>
    public void Discard()
    {
        Directory.Delete(Path, recursive: true);
        if (_createdParent is not null && !Directory.EnumerateFileSystemEntries(_createdParent).Any())
            Directory.Delete(_createdParent);
    }

    /// <summary>
    /// Creates <c>model/</c> with the model's <c>config.json</c> and the data files (statistics,
    /// vocabulary); returns those files, which every checkpoint copies.
    /// </summary>
    /// <param name="model">The architecture.</param>
    /// <param name="data">The prepared data.</param>
    public IReadOnlyList<string> CreateModelDirectory(Nn.ModelConfig model, PreparedData data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        string modelDir = this[RunFiles.ModelDirectory];
        Directory.CreateDirectory(modelDir);
        string modelConfig = System.IO.Path.Combine(modelDir, RunFiles.ModelConfig);
        AtomicFile.WriteAllText(modelConfig, model.ToJson());
        var files = new List<string> { modelConfig };
        files.AddRange(DataArtifacts.Save(data, modelDir));
        return files;
    }

    /// <summary>The files of <c>model/</c> that every checkpoint copies (its config and data files, not its weights), in name order.</summary>
    public IReadOnlyList<string> ModelDirectoryFiles()
    {
        string modelDir = this[RunFiles.ModelDirectory];
        return Directory.Exists(modelDir)
            ? Directory.GetFiles(modelDir).Where(f => !TrainingCheckpoint.ReservedNames.Contains(System.IO.Path.GetFileName(f)) && !System.IO.Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList()
            : [];
    }

    /// <summary>
    /// Once training has ended: copies the best checkpoint's weights (else the last one's) into
    /// <c>model/</c>; returns the checkpoint's name (<c>best</c> or <c>last</c>).
    /// </summary>
    public string PublishModel()
    {
        string best = System.IO.Path.Combine(this[RunFiles.BestCheckpoint], RunFiles.Weights);
        string chosen = File.Exists(best) ? RunFiles.BestCheckpoint : RunFiles.LastCheckpoint;
        string source = System.IO.Path.Combine(this[chosen], RunFiles.Weights);
        AtomicFile.Write(System.IO.Path.Combine(this[RunFiles.ModelDirectory], RunFiles.Weights), temp => File.Copy(source, temp));
        return chosen;
    }

    /// <summary>Writes a text file of the run atomically.</summary>
    /// <param name="name">The file's name.</param>
    /// <param name="text">Its content.</param>
    public void WriteText(string name, string text) => AtomicFile.WriteAllText(this[name], text);

    /// <summary>Writes <c>config.json</c>.</summary>
    /// <param name="config">The settings.</param>
    public void WriteConfig(RunConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        WriteText(RunFiles.RunConfig, config.ToJson());
    }

    /// <summary>Reads <c>config.json</c>.</summary>
    public RunConfig ReadConfig() => RunConfig.Load(this[RunFiles.RunConfig]);
}

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
        string[] csv = ["targets", "features", "horizon", "normalize", "missing"];
        string[] file = ["path", "window", "val_fraction"];
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
