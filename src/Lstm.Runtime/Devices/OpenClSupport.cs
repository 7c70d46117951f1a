using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

namespace Lstm.Runtime.Devices;

/// <summary>
/// Which OpenCL devices the runtime opens. By default, ILGPU's own rule: OpenCL C 2.0 or later
/// with the generic address space. Tests may opt in to devices without the generic address space
/// (Debian's pocl CPU driver) through <see cref="AllowWithoutGenericAddressSpace"/>; a user's
/// device never is.
/// </summary>
internal static class OpenClSupport
{
    /// <summary>
    /// Test-only opt-in: also list OpenCL devices that lack the generic address space (pocl),
    /// which run the project's kernels correctly since those never use generic pointers.
    /// </summary>
    internal static bool AllowWithoutGenericAddressSpace { get; set; }

    /// <summary>Adds the OpenCL devices to a context builder.</summary>
    /// <param name="builder">The builder.</param>
    public static void ConfigureOpenCL(Context.Builder builder)
    {
        bool allow = AllowWithoutGenericAddressSpace;
        builder.OpenCL(device =>
            device.CLStdVersion >= ILGPU.Backends.OpenCL.CLBackend.MinimumVersion
            && (device.Capabilities.GenericAddressSpace || allow));
    }

    /// <summary>Creates the accelerator of an OpenCL device.</summary>
    /// <param name="context">The context.</param>
    /// <param name="device">The device.</param>
    public static Accelerator CreateAccelerator(Context context, CLDevice device) =>
        device.CreateCLAccelerator(context);
}
