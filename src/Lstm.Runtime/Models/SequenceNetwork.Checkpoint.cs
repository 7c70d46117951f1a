using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>Saving and loading: <c>config.json</c> plus the weights as safetensors under PyTorch's names.</summary>
public partial class SequenceNetwork<T>
{
    /// <summary>The file name of the weights in a model directory.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> (the parameters under their
    /// state-dict names, F32 or F64 as T) into <paramref name="directory"/>, creating it if
    /// needed; each file is written atomically (a temporary file, then a rename).
    /// </summary>
    /// <param name="directory">The model directory.</param>
    /// <exception cref="LstmException">A file cannot be written.</exception>
    public void Save(string directory)
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

        Save(Path.Combine(directory, ModelConfig.FileName), Path.Combine(directory, WeightsFileName));
    }

    /// <summary>Writes the configuration and the weights to the given files, each atomically.</summary>
    /// <param name="configPath">The <c>config.json</c> to write.</param>
    /// <param name="weightsPath">The safetensors file to write.</param>
    /// <exception cref="LstmException">A file cannot be written.</exception>
    public void Save(string configPath, string weightsPath)
    {
        ArgumentNullException.ThrowIfNull(configPath);
        ArgumentNullException.ThrowIfNull(weightsPath);
        StateDict.Save(weightsPath, NamedParameters());
        Config.Save(configPath);
    }

    /// <summary>
    /// Loads a saved network: <paramref name="path"/> is a model directory (its <c>config.json</c>
    /// and <c>model.safetensors</c>), a <c>config.json</c> (weights <c>model.safetensors</c>
    /// beside it), or a safetensors file (<c>config.json</c> beside it).
    /// </summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="path">A directory, a <c>config.json</c> or a <c>.safetensors</c> file.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static SequenceNetwork<T> Load(ComputeDevice device, string path)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(path);
        string configPath, weightsPath;
        if (Directory.Exists(path))
        {
            configPath = Path.Combine(path, ModelConfig.FileName);
            weightsPath = Path.Combine(path, WeightsFileName);
        }
        else if (File.Exists(path))
        {
            string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            bool isConfig = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
            configPath = isConfig ? path : Path.Combine(directory, ModelConfig.FileName);
            weightsPath = isConfig ? Path.Combine(directory, WeightsFileName) : path;
        }
        else
        {
            throw new LstmException($"{path}: no such model directory or file (expected a directory with {ModelConfig.FileName} and {WeightsFileName}, or one of those files)");
        }

        if (!File.Exists(configPath))
            throw new LstmException($"{configPath}: missing; a model needs its {ModelConfig.FileName} next to the weights");
        if (!File.Exists(weightsPath))
            throw new LstmException($"{weightsPath}: missing; a model needs its weights next to {ModelConfig.FileName}");
        return Load(device, configPath, weightsPath);
    }

    /// <summary>Loads a network from a configuration file and a weights file.</summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="configPath">The <c>config.json</c>.</param>
    /// <param name="weightsPath">The safetensors file (F32 or F64; converted to T).</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static SequenceNetwork<T> Load(ComputeDevice device, string configPath, string weightsPath)
    {
        ArgumentNullException.ThrowIfNull(device);
        var config = ModelConfig.Load(configPath);
        var weights = SafeTensorsFile.Read(weightsPath);
        var network = new SequenceNetwork<T>(device, config);
        try
        {
            network.LoadWeights(weights, configPath);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies the parameters from a state dict: every name must be present with the shape the
    /// configuration gives it, and the state dict must hold nothing else.
    /// </summary>
    /// <param name="weights">The state dict (F32 or F64; converted to T).</param>
    /// <param name="configSource">Where the configuration came from, for messages.</param>
    /// <exception cref="LstmException">A tensor is missing, has another shape, or is not a parameter of this network.</exception>
    public void LoadWeights(SafeTensorsFile weights, string configSource = ModelConfig.FileName)
    {
        ArgumentNullException.ThrowIfNull(weights);
        string source = weights.Path ?? "state dict";
        var expected = NamedParameters().ToList();
        var names = expected.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var extra = weights.Tensors.Select(t => t.Name).Where(n => !names.Contains(n)).ToList();
        string model = $"{ModelConfig.KindName(Config.Kind)} {ModelConfig.CellName(Config.Cell)} model of {configSource}";
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
