using Lstm.Kernels.Gemm;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;

namespace Lstm.Runtime.Training;

/// <summary>The devices of a run, opened in order (a name twice is two devices) and disposed together.</summary>
internal sealed class DeviceSet : IDisposable
{
    public DeviceSet(IReadOnlyList<string> names, GemmPrecision precision)
    {
        var opened = new List<ComputeDevice>();
        try
        {
            foreach (string name in names)
                opened.Add(ComputeDevice.Open(name, precision));
        }
        catch
        {
            opened.ForEach(d => d.Dispose());
            throw;
        }

        Devices = opened;
    }

    public IReadOnlyList<ComputeDevice> Devices { get; }

    /// <summary>"cpu (…)" for one device; "cpu, ilgpu-cpu (data parallel, shards 24,8)" for several.</summary>
    public string Describe(IReadOnlyList<int> shards) => Devices.Count == 1
        ? Devices[0].ToString()
        : $"{string.Join(", ", Devices.Select(d => d.Name))} (data parallel, shards {string.Join(",", shards)})";

    public void Dispose()
    {
        foreach (var d in Devices)
            d.Dispose();
    }
}

/// <summary>The replicas of a model, one per device, disposed together.</summary>
internal sealed class ReplicaSet(IEnumerable<ISequenceModel<float>> models) : IDisposable
{
    public IReadOnlyList<ISequenceModel<float>> Models { get; } = models.ToList();

    public void Dispose()
    {
        foreach (var m in Models)
            m.Dispose();
    }
}
