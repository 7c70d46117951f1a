using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// Every kernel compiles to PTX and to OpenCL C (each for the back ends it declares) with no GPU present, so an intrinsic or construct
/// a GPU back end rejects fails here, in CI, before a GPU ever sees it.
/// </summary>
public sealed class BackendCompileTests(ITestOutputHelper output) : IDisposable
{
    private readonly Context _context = Context.Create(b => b.EnableAlgorithms());

    /// <summary>The kernels that run on a back end, in float32 and float64.</summary>
    public static IEnumerable<object[]> KernelsOn(KernelBackends backend)
    {
        foreach (var (type, name, grouping, backends, _) in KernelList.Where(k => k.Backends.HasFlag(backend)))
        {
            yield return [type.Name + "." + name, "float32", grouping];
            yield return [type.Name + "." + name, "float64", grouping];
        }
    }

    public static IEnumerable<object[]> CudaKernels() => KernelsOn(KernelBackends.Cuda);

    public static IEnumerable<object[]> OpenCLKernels() => KernelsOn(KernelBackends.OpenCL);

    /// <summary>
    /// Every kernel, the ILGPU back ends it runs on and, for one that does not run on them all
    /// (inline PTX or warp shuffles exist only for CUDA), the listed kernel that takes its place on the others.
    /// </summary>
    private static readonly (Type Type, string Name, bool ExplicitGroups, KernelBackends Backends, string? Fallback)[] KernelList =
    [
        (typeof(GemmKernels), nameof(GemmKernels.Tiled), true, KernelBackends.All, null),
        (typeof(GemmKernels), nameof(GemmKernels.RowDot), false, KernelBackends.All, null),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardTraining), false, KernelBackends.All, null),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.ForwardInference), false, KernelBackends.All, null),
        (typeof(LstmCellKernels), nameof(LstmCellKernels.Backward), false, KernelBackends.All, null),
        (typeof(GruCellKernels), nameof(GruCellKernels.ForwardTraining), false, KernelBackends.All, null),
        (typeof(GruCellKernels), nameof(GruCellKernels.ForwardInference), false, KernelBackends.All, null),
        (typeof(GruCellKernels), nameof(GruCellKernels.Backward), false, KernelBackends.All, null),
        (typeof(RnnCellKernels), nameof(RnnCellKernels.Forward), false, KernelBackends.All, null),
        (typeof(RnnCellKernels), nameof(RnnCellKernels.Backward), false, KernelBackends.All, null),
        (typeof(DropoutKernels), nameof(DropoutKernels.Dropout), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.SumRows), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.SwapAxes01), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.AddRowBias), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.Axpy), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.MseGrad), false, KernelBackends.All, null),
        (typeof(ElementwiseKernels), nameof(ElementwiseKernels.Fill), false, KernelBackends.All, null),
        (typeof(GatherKernels), nameof(GatherKernels.GatherRows), false, KernelBackends.All, null),
        (typeof(OptimizerKernels), nameof(OptimizerKernels.Sgd), false, KernelBackends.All, null),
        (typeof(OptimizerKernels), nameof(OptimizerKernels.Adam), false, KernelBackends.All, null),
        (typeof(OptimizerKernels), nameof(OptimizerKernels.SumSquares), false, KernelBackends.All, null),
        (typeof(OptimizerKernels), nameof(OptimizerKernels.Scale), false, KernelBackends.All, null),
        (typeof(LossKernels), nameof(LossKernels.Mse), false, KernelBackends.All, null),
        (typeof(LossKernels), nameof(LossKernels.CrossEntropy), false, KernelBackends.All, null),
        (typeof(EmbeddingKernels), nameof(EmbeddingKernels.Gather), false, KernelBackends.All, null),
        (typeof(EmbeddingKernels), nameof(EmbeddingKernels.ScatterAdd), false, KernelBackends.All, null),
    ];

    [Fact]
    public void KernelList_CoversEveryPublicKernel()
    {
        var listed = KernelList.Select(k => k.Type.Name + "." + k.Name).ToHashSet();
        var all = new[] { typeof(GemmKernels), typeof(LstmCellKernels), typeof(ElementwiseKernels), typeof(GruCellKernels), typeof(RnnCellKernels), typeof(DropoutKernels), typeof(GatherKernels), typeof(OptimizerKernels), typeof(LossKernels), typeof(EmbeddingKernels) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Where(m => m.ReturnType == typeof(void))
                .Select(m => t.Name + "." + m.Name));
        var missing = all.Where(name => !listed.Contains(name)).ToList();
        Assert.True(missing.Count == 0, "kernels not compiled for CUDA/OpenCL: " + string.Join(", ", missing));
    }

    private static EntryPointDescription EntryPoint(string qualified, string dtype, bool explicitGroups)
    {
        var (type, name, _, _, _) = KernelList.Single(k => k.Type.Name + "." + k.Name == qualified);
        var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        Type element = dtype == "float32" ? typeof(float) : typeof(double);
        Type ops = dtype == "float32" ? typeof(F32Ops) : typeof(F64Ops);
        var closed = method.GetGenericArguments().Length == 2 ? method.MakeGenericMethod(element, ops) : method.MakeGenericMethod(element);
        return explicitGroups
            ? EntryPointDescription.FromExplicitlyGroupedKernel(closed)
            : EntryPointDescription.FromImplicitlyGroupedKernel(closed);
    }

    [Theory]
    [MemberData(nameof(CudaKernels))]
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
    [MemberData(nameof(OpenCLKernels))]
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

    /// <summary>
    /// The table of kernels and back ends: a kernel missing from a back end names a fallback
    /// that is listed and runs there, so every operation has a kernel on every back end.
    /// </summary>
    [Fact]
    public void EveryKernel_RunsOnEveryBackend_OrNamesAFallbackThatDoes()
    {
        var byName = KernelList.ToDictionary(k => k.Type.Name + "." + k.Name);
        foreach (var (type, name, _, backends, fallback) in KernelList)
        {
            var missing = KernelBackends.All & ~backends;
            output.WriteLine($"{type.Name + "." + name,-36} {backends}{(fallback is null ? "" : $" (elsewhere: {fallback})")}");
            if (missing == 0)
            {
                Assert.True(fallback is null, $"{type.Name}.{name} runs everywhere but names a fallback");
                continue;
            }

            Assert.True(fallback is not null, $"{type.Name}.{name} does not run on {missing} and names no fallback");
            Assert.True(byName.TryGetValue(fallback, out var other), $"{type.Name}.{name}: fallback {fallback} is not a listed kernel");
            Assert.True((other.Backends & missing) == missing, $"{type.Name}.{name}: fallback {fallback} does not run on {missing & ~other.Backends}");
        }
    }

    public void Dispose() => _context.Dispose();
}

/// <summary>The ILGPU back ends a kernel runs on.</summary>
[Flags]
public enum KernelBackends
{
    /// <summary>ILGPU's CPU accelerator (<c>ilgpu-cpu</c>).</summary>
    IlgpuCpu = 1,

    /// <summary>PTX on NVIDIA GPUs.</summary>
    Cuda = 2,

    /// <summary>OpenCL C on any OpenCL 2.0+ device with the generic address space.</summary>
    OpenCL = 4,

    /// <summary>Every ILGPU back end.</summary>
    All = IlgpuCpu | Cuda | OpenCL,
}
