using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// A model on disk: its <see cref="ModelConfig"/> as <c>config.json</c> and its weights as
/// <c>model.safetensors</c> under PyTorch's state-dict names (<see cref="RunFiles"/>), each file
/// written atomically. The network itself only lends its named parameters.
/// </summary>
public static class ModelFolder
{
    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> (F32 or F64 as T) into
    /// <paramref name="directory"/>, creating it if needed.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="directory">The model directory.</param>
    /// <param name="config">The architecture (validated).</param>
    /// <param name="parameters">The parameters under their state-dict names.</param>
    /// <exception cref="LstmException">The configuration is invalid or a file cannot be written.</exception>
    public static void Save<T>(string directory, ModelConfig config, IEnumerable<(string Name, Parameter<T> Parameter)> parameters)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(directory);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new LstmException($"{directory}: cannot create the model directory: {e.Message}", e);
        }

        Save(Path.Combine(directory, RunFiles.ModelConfig), Path.Combine(directory, RunFiles.Weights), config, parameters);
    }

    /// <summary>Writes the configuration and the weights to the given files.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="configPath">The <c>config.json</c> to write.</param>
    /// <param name="weightsPath">The safetensors file to write.</param>
    /// <param name="config">The architecture (validated).</param>
    /// <param name="parameters">The parameters under their state-dict names.</param>
    /// <exception cref="LstmException">The configuration is invalid or a file cannot be written.</exception>
    public static void Save<T>(string configPath, string weightsPath, ModelConfig config, IEnumerable<(string Name, Parameter<T> Parameter)> parameters)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(configPath);
        ArgumentNullException.ThrowIfNull(weightsPath);
        ArgumentNullException.ThrowIfNull(config);
        StateDict.Save(weightsPath, parameters);
        SaveConfig(configPath, config);
    }

    /// <summary>Validates, then writes the configuration's JSON (and a newline).</summary>
    /// <param name="path">The file to write (conventionally <c>config.json</c> next to the weights).</param>
    /// <param name="config">The architecture.</param>
    /// <exception cref="LstmException">The configuration is invalid or the file cannot be written.</exception>
    public static void SaveConfig(string path, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        AtomicFile.WriteAllText(path, config.ToJson() + "\n");
    }

    /// <summary>Reads and validates a configuration file.</summary>
    /// <param name="path">A <c>config.json</c>.</param>
    /// <exception cref="LstmException">The file is missing, unreadable or not a valid configuration.</exception>
    public static ModelConfig LoadConfig(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new LstmException($"{path}: cannot read the model configuration: {e.Message}", e);
        }

        return ModelConfig.FromJson(text, path);
    }

    /// <summary>
    /// The files of a saved model: <paramref name="path"/> is a model directory (its
    /// <c>config.json</c> and <c>model.safetensors</c>), a <c>config.json</c> (weights
    /// <c>model.safetensors</c> beside it), or a safetensors file (<c>config.json</c> beside it).
    /// </summary>
    /// <param name="path">A directory, a <c>config.json</c> or a <c>.safetensors</c> file.</param>
    /// <exception cref="LstmException">A file is missing.</exception>
    public static (string ConfigPath, string WeightsPath) Locate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string configPath, weightsPath;
        if (Directory.Exists(path))
        {
            configPath = Path.Combine(path, RunFiles.ModelConfig);
            weightsPath = Path.Combine(path, RunFiles.Weights);
        }
        else if (File.Exists(path))
        {
            string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            bool isConfig = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
            configPath = isConfig ? path : Path.Combine(directory, RunFiles.ModelConfig);
            weightsPath = isConfig ? Path.Combine(directory, RunFiles.Weights) : path;
        }
        else
        {
            throw new LstmException($"{path}: no such model directory or file (expected a directory with {RunFiles.ModelConfig} and {RunFiles.Weights}, or one of those files)");
        }

        if (!File.Exists(configPath))
            throw new LstmException($"{configPath}: missing; a model needs its {RunFiles.ModelConfig} next to the weights");
        if (!File.Exists(weightsPath))
            throw new LstmException($"{weightsPath}: missing; a model needs its weights next to {RunFiles.ModelConfig}");
        return (configPath, weightsPath);
    }

    /// <summary>
    /// Builds a model from <paramref name="configPath"/>'s configuration and loads its weights from
    /// <paramref name="weightsPath"/> (<see cref="LoadWeights{T}"/>); the model is disposed if loading fails.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <typeparam name="TModel">The model type.</typeparam>
    /// <param name="configPath">The <c>config.json</c>.</param>
    /// <param name="weightsPath">The safetensors file.</param>
    /// <param name="create">Builds the model of a configuration (and checks its kind).</param>
    /// <param name="parameters">The model's parameters under their state-dict names.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static TModel LoadModel<T, TModel>(
        string configPath, string weightsPath, Func<ModelConfig, TModel> create, Func<TModel, IEnumerable<(string Name, Parameter<T> Parameter)>> parameters)
        where T : unmanaged
        where TModel : IDisposable
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(parameters);
        var config = LoadConfig(configPath);
        var weights = SafeTensorsFile.Read(weightsPath);
        var model = create(config);
        try
        {
            LoadWeights(config, parameters(model), weights, configPath);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies a model's parameters from a state dict: every name must be present with the shape the
    /// configuration gives it, and the state dict must hold nothing else.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="config">The model's architecture, for messages.</param>
    /// <param name="parameters">The model's parameters under their state-dict names.</param>
    /// <param name="weights">The state dict (F32 or F64; converted to T).</param>
    /// <param name="configSource">Where the configuration came from, for messages.</param>
    /// <exception cref="LstmException">A tensor is missing, has another shape, or is not a parameter of the model.</exception>
    public static void LoadWeights<T>(ModelConfig config, IEnumerable<(string Name, Parameter<T> Parameter)> parameters, SafeTensorsFile weights, string configSource = RunFiles.ModelConfig)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(weights);
        string source = weights.Path ?? "state dict";
        var expected = parameters.ToList();
        var names = expected.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var extra = weights.Tensors.Select(t => t.Name).Where(n => !names.Contains(n)).ToList();
        string model = $"{ModelConfig.KindName(config.Kind)} {ModelConfig.CellName(config.Cell)} model of {configSource}";
        if (extra.Count > 0)
        {
            throw new LstmException(
                $"{source}: tensor '{extra[0]}' is not a parameter of the {model}"
                + (extra.Count > 1 ? $" (nor are {string.Join(", ", extra.Skip(1).Take(8).Select(n => $"'{n}'"))}{(extra.Count > 9 ? ", ..." : "")})" : "")
                + $"; it expects: {string.Join(", ", names)}");
        }

        foreach (var (name, p) in expected)
        {
            var t = weights.TryGet(name)
                ?? throw new LstmException($"{source}: tensor '{name}' of the {model} is missing (the file has: {string.Join(", ", weights.Tensors.Take(12).Select(x => x.Name))}{(weights.Tensors.Count > 12 ? ", ..." : "")})");
            if (!t.Shape.SequenceEqual(p.Shape))
                throw new LstmException($"{source}: tensor '{name}' has shape {t.ShapeString}, but the {model} expects {Tensor<T>.FormatShape(p.Shape)}");
        }

        StateDict.Load(expected, weights);
    }
}
