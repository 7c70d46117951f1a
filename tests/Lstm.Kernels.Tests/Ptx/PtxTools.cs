using System.Diagnostics;

namespace Lstm.Kernels.Tests.Ptx;

/// <summary>
/// NVIDIA's offline tools (ptxas, cuobjdump) from CUDA 11.8, found through <c>LSTM_PTXAS_DIR</c>,
/// else the PATH, else <c>~/.cache/cuda118/usr/bin</c> where <c>.ci/ptxas.sh</c> puts them.
/// </summary>
internal static class PtxTools
{
    public const string DirVariable = "LSTM_PTXAS_DIR";

    private static readonly Lazy<string?> BinDir = new(Find);

    /// <summary>The folder holding ptxas and cuobjdump, or null.</summary>
    public static string? Dir => BinDir.Value;

    /// <summary>Why the ptxas checks skip, or null when the tools are there.</summary>
    public static string? Missing =>
        Dir is not null ? null
        : string.IsNullOrEmpty(Environment.GetEnvironmentVariable(DirVariable))
            ? $"ptxas not found: run .ci/ptxas.sh (or set {DirVariable} to the folder holding ptxas and cuobjdump)"
            : $"ptxas not found: {DirVariable}={Environment.GetEnvironmentVariable(DirVariable)} holds no ptxas and cuobjdump; run .ci/ptxas.sh";

    private static string? Find()
    {
        static bool Has(string? dir) =>
            !string.IsNullOrEmpty(dir) && File.Exists(Path.Combine(dir, "ptxas")) && File.Exists(Path.Combine(dir, "cuobjdump"));

        string? env = Environment.GetEnvironmentVariable(DirVariable);
        if (!string.IsNullOrEmpty(env))
            return Has(env) ? env : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (Has(dir))
                return dir;
        }

        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "cuda118", "usr", "bin");
        return Has(cache) ? cache : null;
    }

    /// <summary>Runs a tool of <see cref="Dir"/>; its standard output and error together, or an exception naming the command and what it said.</summary>
    public static string Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(Dir ?? throw new InvalidOperationException(Missing), tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string all = stdout + stderr.Result;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} exited with {process.ExitCode}:\n{all}");
        return all;
    }
}
