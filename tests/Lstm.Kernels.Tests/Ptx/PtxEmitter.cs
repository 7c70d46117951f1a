using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Lstm.Kernels.Tests.Ptx;

/// <summary>
/// Emits a catalog kernel as PTX with ILGPU's PTX back end and no GPU: PTX ISA 7.8 (the newest
/// that ptxas 11.8 reads), the kernel's launch bounds, and its <see cref="SpecializedValue{T}"/>
/// parameters replaced by the catalog's constants, as the accelerator does at launch.
/// </summary>
internal static class PtxEmitter
{
    public static EntryPointDescription EntryPoint(KernelEntry kernel, string dtype)
    {
        var method = kernel.Method(dtype);
        return kernel.ExplicitGroups
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
    }

    /// <summary>The PTX of <paramref name="kernel"/> in <paramref name="dtype"/>, compiled for <paramref name="arch"/>.</summary>
    public static string Emit(Context context, KernelEntry kernel, string dtype, CudaArchitecture arch)
    {
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, null);
        var entry = EntryPoint(kernel, dtype);
        var launch = kernel.LaunchBounds;
        var specialized = entry.Parameters.SpecializedParameters;
        if (specialized.Length != (kernel.Specialized?.Length ?? 0))
        {
            throw new InvalidOperationException(
                $"{kernel.Qualified} has {specialized.Length} SpecializedValue parameter(s); the catalog gives {kernel.Specialized?.Length ?? 0} value(s)");
        }

        if (specialized.Length == 0)
            return ((PTXCompiledKernel)backend.Compile(entry, launch)).PTXAssembly;

        // What ILGPU's SpecializationCache does when a kernel with SpecializedValue parameters is
        // first launched: a wrapper entry point calls the kernel with the values as constants,
        // the IR is optimized (the constants propagate), and the wrapper is compiled.
        var kernelMethod = backend.PreCompileKernelMethod(entry);
        using var irContext = kernelMethod.ExtractToContext(out var extracted);
        var wrapper = Wrap(irContext, extracted, entry, kernel.Specialized!);
        irContext.Optimize();
        return ((PTXCompiledKernel)backend.Compile(wrapper, entry, launch)).PTXAssembly;
    }

    private static Method Wrap(IRContext irContext, Method kernelMethod, EntryPointDescription entry, object[] values)
    {
        var wrapper = irContext.Declare(new MethodDeclaration(MethodHandle.Create("LauncherWrapper"), irContext.VoidType), out _);
        kernelMethod.AddFlags(MethodFlags.Inline);
        var specialized = entry.Parameters.SpecializedParameters;
        using (var builder = wrapper.CreateBuilder())
        {
            var location = wrapper.Location;
            var block = builder.EntryBlockBuilder;
            var call = block.CreateCall(location, kernelMethod);
            int next = 0;
            for (int i = 0; i < kernelMethod.NumParameters; i++)
            {
                var parameter = kernelMethod.Parameters[i];
                // Every parameter stays on the wrapper, so the argument mapping is unchanged.
                var own = builder.AddParameter(parameter.Type, parameter.Name);
                if (next < specialized.Length && specialized[next].Index == i - entry.KernelIndexParameterOffset)
                {
                    var p = specialized[next];
                    object boxed = Activator.CreateInstance(p.SpecializedType, Convert.ChangeType(values[next], p.ParameterType, System.Globalization.CultureInfo.InvariantCulture))!;
                    call.Add(block.CreateObjectValue(location, boxed));
                    next++;
                }
                else
                {
                    call.Add(own);
                }
            }

            call.Seal();
            block.CreateReturn(location);
            builder.Complete();
        }

        return wrapper;
    }
}
