using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

namespace Lstm.Runtime.Devices;

/// <summary>
/// Which OpenCL devices the runtime opens: ILGPU's own rule, OpenCL C 2.0 or later with the
/// generic address space.
/// </summary>
/// <remarks>
/// ILGPU 1.5.3 emits OpenCL C whose kernel parameters are cast to <c>__generic</c> pointers.
/// A device without the generic address space cannot build that code, whatever ILGPU's own check
/// says: Debian 12's pocl 3.1 (OpenCL C 1.2 on the CPU) rejects every one of the project's
/// kernels with "OpenCL C version 3.0 does not support the '__generic' type qualifier", and its
/// build options cannot switch the feature on. Such devices are therefore not listed.
/// </remarks>
internal static class OpenClSupport
{
    /// <summary>Adds the OpenCL devices ILGPU can run to a context builder.</summary>
    /// <param name="builder">The builder.</param>
    public static void ConfigureOpenCL(Context.Builder builder) => builder.OpenCL();

    /// <summary>Creates the accelerator of an OpenCL device.</summary>
    /// <param name="context">The context.</param>
    /// <param name="device">The device.</param>
    public static Accelerator CreateAccelerator(Context context, CLDevice device) => device.CreateCLAccelerator(context);
}
