using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;

namespace Lstm.Runtime.Training;

/// <summary>A finished (or checkpointed) run opened for use: its folder, config, data files and model on a device.</summary>
public sealed class TrainedRun : IDisposable
{
    private TrainedRun(RunFolder folder, RunConfig config, string modelDirectory, PreparedData data, ComputeDevice device, SequenceNetwork<float> model)
    {
        Folder = folder;
        Config = config;
        ModelDirectory = modelDirectory;
        Data = data;
        Device = device;
        Model = model;
    }

    /// <summary>The run folder.</summary>
    public RunFolder Folder { get; }

    /// <summary>The run's config (its data spec and settings).</summary>
    public RunConfig Config { get; }

    /// <summary>Where the weights came from: <c>model/</c>, <c>best/</c> or <c>last/</c>.</summary>
    public string ModelDirectory { get; }

    /// <summary>The run's data files (statistics, vocabulary); no samples.</summary>
    public PreparedData Data { get; }

    /// <summary>The device the model is on, at the precision the run trained at.</summary>
    public ComputeDevice Device { get; }

    /// <summary>The trained network.</summary>
    public SequenceNetwork<float> Model { get; }

    /// <summary>Opens the run: everything in the folder is checked before the device is opened.</summary>
    /// <param name="path">The run folder.</param>
    /// <param name="deviceName">The device.</param>
    /// <param name="check">Checks the run's config (e.g. that it was trained on a CSV) before the model loads.</param>
    public static TrainedRun Open(string path, string deviceName, Action<RunConfig>? check = null)
    {
        var folder = RunFolder.Open(path);
        var read = folder.ReadConfig();
        // The data file where it is now: as recorded, else relative to the run folder.
        var config = read with { Data = read.Data.LocatedFrom(folder.Path) };
        check?.Invoke(config);
        string dir = folder.TrainedModel();
        var data = DataArtifacts.Load(config.Data, dir);
        _ = ModelFolder.LoadConfig(Path.Combine(dir, RunFiles.ModelConfig)); // A bad config is reported before the device opens.
        // Evaluated at the precision it was trained at.
        var device = ComputeDevice.Open(deviceName, TrainingSettings.FromJson(config.Training, folder[RunFiles.RunConfig]).Precision);
        try
        {
            var model = SequenceNetwork<float>.Load(device, dir);
            return new TrainedRun(folder, config, dir, data, device, model);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Frees the model and closes the device.</summary>
    public void Dispose()
    {
        Model.Dispose();
        Device.Dispose();
    }
}
