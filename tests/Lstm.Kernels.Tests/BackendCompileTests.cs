using System.Reflection;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Lstm.Kernels.Gemm;
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
        foreach (var kernel in KernelCatalog.All.Where(k => k.Backends.HasFlag(backend)))
        {
            foreach (string dtype in kernel.DTypes)
                yield return [kernel.Qualified, dtype, kernel.ExplicitGroups];
        }
    }

    public static IEnumerable<object[]> CudaKernels() => KernelsOn(KernelBackends.Cuda);

    public static IEnumerable<object[]> OpenCLKernels() => KernelsOn(KernelBackends.OpenCL);

    /// <summary>The PTX the ptxas checks assemble (ISA 7.8, the catalog's launch bounds and specializations), for Hopper.</summary>
    [Theory]
    [MemberData(nameof(CudaKernels))]
    public void Kernel_CompilesToPtx_ForHopper(string kernel, string dtype, bool explicitGroups)
    {
        var entry = KernelCatalog.Get(kernel);
        Assert.Equal(entry.ExplicitGroups, explicitGroups);
        string ptx = Ptx.PtxEmitter.Emit(_context, entry, dtype, CudaArchitecture.SM_90);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        // Precise math: no approximate transcendental instruction in any kernel.
        Assert.DoesNotContain("ex2.approx", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("tanh.approx", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("lg2.approx", ptx, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(OpenCLKernels))]
    public void Kernel_CompilesToOpenCLC(string kernel, string dtype, bool explicitGroups)
    {
        var capabilities = new CLCapabilityContext(float16: false, float64: true, genericAddressSpace: true, int64_Atomics: false, subGroups: false);
        using var backend = new CLBackend(_context, capabilities, CLDeviceVendor.Other, CLCVersion.CL20);
        Assert.Equal(KernelCatalog.Get(kernel).ExplicitGroups, explicitGroups);
        var compiled = (CLCompiledKernel)backend.Compile(Ptx.PtxEmitter.EntryPoint(KernelCatalog.Get(kernel), dtype), default);
        Assert.Contains("kernel", compiled.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelCatalog_CoversEveryKernelInTheKernelsAssembly()
    {
        // Every public static void method of a top-level static class in Lstm.Kernels is a kernel
        // (the classes are internal: the assembly has no public API of its own), except in the
        // Math operators, whose paired vector forms return through ref parameters on the host.
        var listed = KernelCatalog.All.Select(k => k.Qualified).ToHashSet();
        var all = typeof(GemmKernels).Assembly.GetTypes()
            .Where(t => t.IsAbstract && t.IsSealed && !t.IsNested && !t.Name.EndsWith("Operator", StringComparison.Ordinal))
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
        var byName = KernelCatalog.All.ToDictionary(k => k.Qualified);
        foreach (var kernel in KernelCatalog.All)
        {
            var missing = KernelBackends.All & ~kernel.Backends;
            output.WriteLine($"{kernel.Qualified,-36} {kernel.Backends}{(kernel.Fallback is null ? "" : $" (elsewhere: {kernel.Fallback})")}");
            if (missing == 0)
            {
                Assert.True(kernel.Fallback is null, $"{kernel.Qualified} runs everywhere but names a fallback");
                continue;
            }

            Assert.True(kernel.Fallback is not null, $"{kernel.Qualified} does not run on {missing} and names no fallback");
            Assert.True(byName.TryGetValue(kernel.Fallback, out var other), $"{kernel.Qualified}: fallback {kernel.Fallback} is not a listed kernel");
            Assert.True((other.Backends & missing) == missing, $"{kernel.Qualified}: fallback {kernel.Fallback} does not run on {missing & ~other.Backends}");
        }
    }

    public void Dispose() => _context.Dispose();
}
