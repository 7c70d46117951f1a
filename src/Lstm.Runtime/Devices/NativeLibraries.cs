using System.Reflection;
using System.Runtime.InteropServices;

namespace Lstm.Runtime.Devices;

/// <summary>
/// Finds the GPU drivers' libraries under their versioned names. ILGPU imports <c>cuda</c> and
/// <c>OpenCL</c>, which the loader resolves to <c>libcuda.so</c> and <c>libOpenCL.so</c>; a
/// machine with only the driver (no development package) has just <c>libcuda.so.1</c> and
/// <c>libOpenCL.so.1</c>. The resolver tries the plain name first, then the versioned ones.
/// </summary>
internal static class NativeLibraries
{
    private static readonly Lock Gate = new();
    private static bool _registered;

    private static readonly Dictionary<string, string[]> Candidates = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cuda"] = ["libcuda.so", "libcuda.so.1", "nvcuda"],
        ["OpenCL"] = ["libOpenCL.so", "libOpenCL.so.1", "OpenCL"],
        ["opencl"] = ["OpenCL", "libOpenCL.so", "libOpenCL.so.1"],
    };

    /// <summary>Registers the resolver on ILGPU's assembly once per process.</summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered)
                return;
            _registered = true;
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, Resolve);
            }
            catch (InvalidOperationException)
            {
                // The host application registered its own resolver for ILGPU: keep it.
            }
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!Candidates.TryGetValue(libraryName, out var names))
            return IntPtr.Zero;
        foreach (string name in names)
        {
            if (NativeLibrary.TryLoad(name, assembly, searchPath, out IntPtr handle))
                return handle;
        }

        return IntPtr.Zero;
    }
}
