using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Lstm.Kernels.Tests;

/// <summary>
/// Every kernel compiles to PTX and to OpenCL C with no GPU present, so an intrinsic or construct
/// a GPU back end rejects fails here, in CI, before a GPU ever sees it.
/// </summary>
public sealed class BackendCompileTests : IDisposable
{
    private readonly Context _context = Context.Create(b => b.EnableAlgorithms());

    public static IEnumerable<object[]> Kernels()
    {
        foreach (var (type, name, grouping) in KernelList)
        {
            yield return [type.Name + "." + name, "float32", grouping];
            yield return [type.Name + "." + name, "float64", grouping];
        }
    }

    private static readonly (Type Type, string Name, bool ExplicitGroups)[] KernelList =
    [
        (typeof(GemmKernels), nameof(GemmKernels.Tiled), true),
        (typeof(GemmKernels), nameof(GemmKernels.RowDot), false),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardTraining), false),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardInference), false),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.Backward), false),
        (typeof(GruCellKernels), nameof(GruCellKernels.ForwardTraining), false),
        (typeof(GruCellKernels), nameof(GruCellKernels.ForwardInference), false),
        (typeof(GruCellKernels), nameof(GruCellKernels.Backward), false),
        (typeof(RnnCellKernels), nameof(RnnCellKernels.Forward), false),
        (typeof(RnnCellKernels), nameof(RnnCellKernels.Backward), false),
        (typeof(DropoutKernels), nameof(DropoutKernels.Dropout), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.SumRows), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.SwapAxes01), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.AddRowBias), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.Axpy), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.MseGrad), false),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.Fill), false),
        (typeof(GatherKernels), nameof(GatherKernels.GatherRows), false),
    ];

    [Fact]
    public void KernelList_CoversEveryPublicKernel()
    {
        var listed = KernelList.Select(k => k.Type.Name + "." + k.Name).ToHashSet();
        var all = new[] { typeof(GemmKernels), typeof(LstmCellKernels), typeof(ElementwiseKernels), typeof(GruCellKernels), typeof(RnnCellKernels), typeof(DropoutKernels), typeof(GatherKernels) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Where(m => m.ReturnType == typeof(void))
                .Select(m => t.Name + "." + m.Name));
        var missing = all.Where(name => !listed.Contains(name)).ToList();
        Assert.True(missing.Count == 0, "kernels not compiled for CUDA/OpenCL: " + string.Join(", ", missing));
    }

    private static EntryPointDescription EntryPoint(string qualified, string dtype, bool explicitGroups)
    {
        var (type, name, _) = KernelList.Single(k => k.Type.Name + "." + k.Name == qualified);
        var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        Type element = dtype == "float32" ? typeof(float) : typeof(double);
        Type ops = dtype == "float32" ? typeof(F32Ops) : typeof(F64Ops);
        var closed = method.GetGenericArguments().Length == 2 ? method.MakeGenericMethod(element, ops) : method.MakeGenericMethod(element);
        return explicitGroups
            ? EntryPointDescription.FromExplicitlyGroupedKernel(closed)
            : EntryPointDescription.FromImplicitlyGroupedKernel(closed);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_CompilesToPtx_ForHopper(string kernel, string dtype, bool explicitGroups)
    {
        using var backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPoint(kernel, dtype, explicitGroups), default);
        Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
        // Precise math: no approximate transcendental instruction in any kernel.
        Assert.DoesNotContain("ex2.approx", compiled.PTXAssembly, StringComparison.Ordinal);
        Assert.DoesNotContain("tanh.approx", compiled.PTXAssembly, StringComparison.Ordinal);
        Assert.DoesNotContain("lg2.approx", compiled.PTXAssembly, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_CompilesToOpenCLC(string kernel, string dtype, bool explicitGroups)
    {
        var capabilities = new CLCapabilityContext(float16: false, float64: true, genericAddressSpace: true, int64_Atomics: false, subGroups: false);
        using var backend = new CLBackend(_context, capabilities, CLDeviceVendor.Other, CLCVersion.CL20);
        var compiled = (CLCompiledKernel)backend.Compile(EntryPoint(kernel, dtype, explicitGroups), default);
        Assert.Contains("kernel", compiled.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelList_CoversEveryKernelInTheKernelsAssembly()
    {
        // Every public static void method of a static class in Lstm.Kernels is a kernel.
        var listed = KernelList.Select(k => k.Type.Name + "." + k.Name).ToHashSet();
        var all = typeof(GemmKernels).Assembly.GetExportedTypes()
            .Where(t => t.IsAbstract && t.IsSealed)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Where(m => m.ReturnType == typeof(void))
                .Select(m => t.Name + "." + m.Name))
            .ToList();
        Assert.Contains("GruCellKernels.Backward", all);
        var missing = all.Where(name => !listed.Contains(name)).ToList();
        Assert.True(missing.Count == 0, "kernels not compiled for CUDA/OpenCL: " + string.Join(", ", missing));
    }

    public void Dispose() => _context.Dispose();
}
