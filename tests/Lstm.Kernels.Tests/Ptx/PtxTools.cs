using System.Diagnostics;

namespace Lstm.Kernels.Tests.Ptx;

/// <summary>
/// NVIDIA's offline tools (ptxas, cuobjdump) from CUDA 11.8, found through <c>LSTM_PTXAS_DIR</c>,
/// else the PATH, else <c>~/.cache/cuda118/usr/bin</c>; where none holds them, fetched there once
/// by the repository's <c>.ci/ptxas.sh</c> (Debian's non-free package, unpacked; no GPU needed).
/// </summary>
internal static class PtxTools
{
    public const string DirVariable = "LSTM_PTXAS_DIR";

    private static readonly Lazy<(string? Dir, string? Why)> Tools = new(Locate);

    /// <summary>The folder holding ptxas and cuobjdump, or null.</summary>
    public static string? Dir => Tools.Value.Dir;

    /// <summary>Why the tools could not be had (named variable wrong, or the fetch failed and what it said), or null.</summary>
    public static string? Missing => Tools.Value.Why;

    private static bool Has(string? dir) =>
        !string.IsNullOrEmpty(dir) && File.Exists(Path.Combine(dir, "ptxas")) && File.Exists(Path.Combine(dir, "cuobjdump"));

    private static (string? Dir, string? Why) Locate()
    {
        string? env = Environment.GetEnvironmentVariable(DirVariable);
        if (!string.IsNullOrEmpty(env))
            return Has(env) ? (env, null) : (null, $"{DirVariable}={env} holds no ptxas and cuobjdump");
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (Has(dir))
                return (dir, null);
        }

        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "cuda118", "usr", "bin");
        return Has(cache) ? (cache, null) : Fetch();
    }

    /// <summary>Runs <c>.ci/ptxas.sh</c> from the repository this test assembly was built in; its last line is the tools' folder.</summary>
    private static (string? Dir, string? Why) Fetch()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, ".ci", "ptxas.sh")))
            root = root.Parent;
        if (root is null)
            return (null, $"ptxas not found ({DirVariable} unset, not on the PATH, not in ~/.cache/cuda118) and no .ci/ptxas.sh above {AppContext.BaseDirectory} to fetch it");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(root.FullName, ".ci", "ptxas.sh"));
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string dir = stdout.Trim().Split('\n').LastOrDefault()?.Trim() ?? "";
        return process.ExitCode == 0 && Has(dir)
            ? (dir, null)
            : (null, $"ptxas not found and .ci/ptxas.sh could not fetch it (exit {process.ExitCode}): {stderr.Result.Trim()}");
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
