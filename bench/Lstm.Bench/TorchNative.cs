using Lstm.Bench.ElfPatch;


namespace Lstm.Bench;

/// <summary>
/// Makes TorchSharp's native library loadable before the first call into TorchSharp.
/// </summary>
/// <remarks>
/// The build patches <c>libLibTorchSharp.so</c> in its output (see Lstm.Bench.csproj). BenchmarkDotNet
/// runs each benchmark in a project it generates and builds itself, without this project's
/// build targets, so that output holds an unpatched copy: this applies the same one-flag patch
/// there, idempotently, before TorchSharp loads the library.
/// </remarks>
public static class TorchNative
{
    /// <summary>The symbol version whose need is made weak.</summary>
    public const string GlibcxxVersion = "GLIBCXX_3.4.32";

    private static readonly Lock Gate = new();
    private static bool _done;

    /// <summary>Patches <c>libLibTorchSharp.so</c> beside this assembly if it still needs it; a no-op after the first call and off Linux.</summary>
    public static void EnsureLoadable()
    {
        lock (Gate)
        {
            if (_done || !OperatingSystem.IsLinux())
                return;
            string library = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
            if (File.Exists(library))
                VersionNeedPatcher.MakeWeak(library, GlibcxxVersion);
            _done = true;
        }
    }
}
