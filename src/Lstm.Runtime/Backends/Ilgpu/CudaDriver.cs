using System.Runtime.InteropServices;

namespace Lstm.Runtime.Backends.Ilgpu;

/// <summary>
/// The few CUDA driver API entry points that ILGPU 1.5.3 does not wrap: function attributes
/// (dynamic shared memory above 48 KB), a device's opt-in shared-memory limit, and stream capture
/// into CUDA graphs. Bound from the same library ILGPU loads (<c>libcuda</c>, <c>nvcuda</c> on
/// Windows), lazily, so nothing here is touched where there is no CUDA device. Each call returns
/// the driver's CUresult (0 is success).
/// </summary>
internal static unsafe class CudaDriver
{
    /// <summary>CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: a function's static shared memory.</summary>
    public const int FuncAttributeSharedSizeBytes = 1;

    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: most dynamic shared memory a launch of the function may ask.</summary>
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: a group's shared memory once a function opts in.</summary>
    public const int DeviceAttributeMaxSharedMemoryPerBlockOptin = 97;

    /// <summary>CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls end a capture (other lanes keep working).</summary>
    public const int CaptureModeThreadLocal = 1;

    /// <summary>CUDA_ERROR_NOT_FOUND, among others: what a call answers when the library lacks the entry point.</summary>
    public const int ErrorNotFound = 500;

    private static readonly Lazy<Table?> Functions = new(Load);

    /// <summary>Whether the driver library and every entry point here were found.</summary>
    public static bool Available => Functions.Value is not null;

    /// <summary>cuCtxGetDevice: the device of the thread's current context.</summary>
    public static int CtxGetDevice(out int device)
    {
        device = 0;
        var f = Functions.Value;
        if (f is null)
            return ErrorNotFound;
        fixed (int* d = &device)
            return f.CtxGetDevice(d);
    }

    /// <summary>cuDeviceGetAttribute.</summary>
    public static int DeviceGetAttribute(out int value, int attribute, int device)
    {
        value = 0;
        var f = Functions.Value;
        if (f is null)
            return ErrorNotFound;
        fixed (int* v = &value)
            return f.DeviceGetAttribute(v, attribute, device);
    }

    /// <summary>cuFuncGetAttribute.</summary>
    public static int FuncGetAttribute(out int value, int attribute, IntPtr function)
    {
        value = 0;
        var f = Functions.Value;
        if (f is null)
            return ErrorNotFound;
        fixed (int* v = &value)
            return f.FuncGetAttribute(v, attribute, function);
    }

    /// <summary>cuFuncSetAttribute.</summary>
    public static int FuncSetAttribute(IntPtr function, int attribute, int value) =>
        Functions.Value is { } f ? f.FuncSetAttribute(function, attribute, value) : ErrorNotFound;

    /// <summary>cuStreamBeginCapture_v2.</summary>
    public static int StreamBeginCapture(IntPtr stream, int mode) =>
        Functions.Value is { } f ? f.StreamBeginCapture(stream, mode) : ErrorNotFound;

    /// <summary>cuStreamEndCapture: the captured graph (zero if the capture was invalidated).</summary>
    public static int StreamEndCapture(IntPtr stream, out IntPtr graph)
    {
        graph = IntPtr.Zero;
        var f = Functions.Value;
        if (f is null)
            return ErrorNotFound;
        fixed (IntPtr* g = &graph)
            return f.StreamEndCapture(stream, g);
    }

    /// <summary>cuGraphInstantiateWithFlags.</summary>
    public static int GraphInstantiate(out IntPtr exec, IntPtr graph)
    {
        exec = IntPtr.Zero;
        var f = Functions.Value;
        if (f is null)
            return ErrorNotFound;
        fixed (IntPtr* e = &exec)
            return f.GraphInstantiateWithFlags(e, graph, 0);
    }

    /// <summary>cuGraphLaunch.</summary>
    public static int GraphLaunch(IntPtr exec, IntPtr stream) =>
        Functions.Value is { } f ? f.GraphLaunch(exec, stream) : ErrorNotFound;

    /// <summary>cuGraphDestroy.</summary>
    public static int GraphDestroy(IntPtr graph) =>
        Functions.Value is { } f ? f.GraphDestroy(graph) : ErrorNotFound;

    /// <summary>cuGraphExecDestroy.</summary>
    public static int GraphExecDestroy(IntPtr exec) =>
        Functions.Value is { } f ? f.GraphExecDestroy(exec) : ErrorNotFound;

    private static Table? Load()
    {
        string[] names = OperatingSystem.IsWindows() ? ["nvcuda"] : ["libcuda.so.1", "libcuda.so", "cuda"];
        foreach (string name in names)
        {
            if (!NativeLibrary.TryLoad(name, out var library))
                continue;
            try
            {
                return new Table(library);
            }
            catch (EntryPointNotFoundException)
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>The entry points, resolved once.</summary>
    private sealed class Table(IntPtr library)
    {
        public readonly delegate* unmanaged<int*, int> CtxGetDevice = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "cuCtxGetDevice");
        public readonly delegate* unmanaged<int*, int, int, int> DeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(library, "cuDeviceGetAttribute");
        public readonly delegate* unmanaged<int*, int, IntPtr, int> FuncGetAttribute = (delegate* unmanaged<int*, int, IntPtr, int>)NativeLibrary.GetExport(library, "cuFuncGetAttribute");
        public readonly delegate* unmanaged<IntPtr, int, int, int> FuncSetAttribute = (delegate* unmanaged<IntPtr, int, int, int>)NativeLibrary.GetExport(library, "cuFuncSetAttribute");
        public readonly delegate* unmanaged<IntPtr, int, int> StreamBeginCapture = (delegate* unmanaged<IntPtr, int, int>)NativeLibrary.GetExport(library, "cuStreamBeginCapture_v2");
        public readonly delegate* unmanaged<IntPtr, IntPtr*, int> StreamEndCapture = (delegate* unmanaged<IntPtr, IntPtr*, int>)NativeLibrary.GetExport(library, "cuStreamEndCapture");
        public readonly delegate* unmanaged<IntPtr*, IntPtr, ulong, int> GraphInstantiateWithFlags = (delegate* unmanaged<IntPtr*, IntPtr, ulong, int>)NativeLibrary.GetExport(library, "cuGraphInstantiateWithFlags");
        public readonly delegate* unmanaged<IntPtr, IntPtr, int> GraphLaunch = (delegate* unmanaged<IntPtr, IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphLaunch");
        public readonly delegate* unmanaged<IntPtr, int> GraphDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphDestroy");
        public readonly delegate* unmanaged<IntPtr, int> GraphExecDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(library, "cuGraphExecDestroy");
    }
}
