using System.Globalization;
using Lstm.Runtime.Devices;

namespace Lstm.Cli;

/// <summary>Lists the devices present.</summary>
internal static class DevicesCommand
{
    public static int Execute(DevicesOptions options, TextWriter stdout)
    {
        _ = options;
        var devices = ComputeDevice.Available();
        stdout.WriteLine($"{"name",-12} {"kind",-9} {"memory",10} {"warp",5} {"SMs",5} {"group",6}  description");
        foreach (var d in devices)
        {
            string memory = (d.MemoryBytes / (1024.0 * 1024 * 1024)).ToString("F1", CultureInfo.InvariantCulture) + " GiB";
            stdout.WriteLine($"{d.Name,-12} {d.Kind,-9} {memory,10} {d.WarpSize,5} {d.Multiprocessors,5} {d.MaxGroupSize,6}  {d.Description}");
        }

        using var auto = ComputeDevice.Open("auto");
        stdout.WriteLine($"auto = {auto.Name}");
        return Program.Ok;
    }
}
