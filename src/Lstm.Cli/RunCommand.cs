using Lstm.Runtime.Models;

namespace Lstm.Cli;

/// <summary><c>lstm run</c>: the options as <see cref="SafeTensorsRunSettings"/>, what <see cref="SafeTensorsRun"/> wrote printed.</summary>
internal static class RunCommand
{
    public static int Execute(RunOptions o, TextWriter stdout)
    {
        var r = SafeTensorsRun.Execute(new SafeTensorsRunSettings
        {
            Model = o.Model,
            Input = o.Input,
            Output = o.Output,
            Device = o.Device,
            Precision = o.Precision,
            BatchFirst = o.BatchFirst,
            Cell = o.Cell,
            Lengths = o.Lengths,
        });
        stdout.WriteLine($"{r.Network} {r.DType} on {r.Device}");
        stdout.WriteLine($"wrote {o.Output}: {r.Written}");
        return Program.Ok;
    }
}
