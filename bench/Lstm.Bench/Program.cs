using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
namespace Lstm.Bench;

/// <summary>Entry point: BenchmarkDotNet's switcher over every benchmark class here (<c>--filter '*'</c> runs them all).</summary>
public static class Program
{
    /// <summary>
    /// BenchmarkDotNet builds a project of its own for the child processes, which copies
    /// libtorch's ~600 MB of natives: on a busy machine that takes longer than its 2-minute default.
    /// </summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    /// <summary>Runs the benchmarks the arguments select, or with <c>probe</c> alone, <see cref="MachineProbe"/>.</summary>
    /// <param name="args">BenchmarkDotNet's command line (<c>--filter</c>, <c>--job</c>, <c>--join</c>, ...), or <c>probe</c>.</param>
    public static void Main(string[] args)
    {
        if (args is ["probe"])
        {
            MachineProbe.Run();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(BuildTimeout));
    }
}
