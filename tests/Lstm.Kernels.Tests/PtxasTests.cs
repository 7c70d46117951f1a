using System.Globalization;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Lstm.Kernels.Gemm;
using Lstm.Kernels.Tests.Ptx;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// Each CUDA kernel's PTX, once per architecture, and what ptxas makes of it; shared by the tests of <see cref="PtxasTests"/>.
/// </summary>
public sealed class PtxasFixture : IDisposable
{
    /// <summary>The GPUs checked: Ampere (A100, consumer), Ada, Hopper.</summary>
    internal static readonly (string Name, CudaArchitecture Arch)[] Architectures =
    [
        ("sm_80", CudaArchitecture.SM_80),
        ("sm_86", CudaArchitecture.SM_86),
        ("sm_89", CudaArchitecture.SM_89),
        ("sm_90", CudaArchitecture.SM_90),
    ];

    private readonly Context _context = Context.Create(b => b.EnableAlgorithms());
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-ptxas-").FullName;
    private readonly Dictionary<(string, string), IReadOnlyList<Assembled>> _assembled = [];
    private readonly Lock _lock = new();

    /// <summary>The kernel in <paramref name="dtype"/> assembled for every architecture (PTX emitted and assembled once).</summary>
    internal IReadOnlyList<Assembled> Assemble(KernelEntry kernel, string dtype)
    {
        lock (_lock)
        {
            if (_assembled.TryGetValue((kernel.Qualified, dtype), out var done))
                return done;
            var ptx = Architectures.Select(a => (a.Name, Text: PtxEmitter.Emit(_context, kernel, dtype, a.Arch))).ToList();
            var results = new Assembled[ptx.Count];
            // ptxas takes 40-100 ms a kernel: two at a time.
            Parallel.For(0, ptx.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
            {
                string stem = Path.Combine(_dir, $"{kernel.Qualified}.{dtype}.{ptx[i].Name}");
                File.WriteAllText(stem + ".ptx", ptx[i].Text);
                string info = PtxTools.Run("ptxas", $"-arch={ptx[i].Name}", "-v", stem + ".ptx", "-o", stem + ".cubin");
                results[i] = new Assembled(ptx[i].Name, TargetOf(ptx[i].Text), PtxasReport.Parse(info), stem + ".cubin");
            });
            _assembled[(kernel.Qualified, dtype)] = results;
            return results;
        }
    }

    private static string TargetOf(string ptx) => Regex.Match(ptx, @"^\.target\s+(\S+)", RegexOptions.Multiline).Groups[1].Value;

    public void Dispose()
    {
        _context.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>One kernel assembled by ptxas for one architecture.</summary>
/// <param name="Arch">The <c>-arch</c> given to ptxas.</param>
/// <param name="PtxTarget">The <c>.target</c> ILGPU wrote (sm_80 at most in ILGPU 1.5.3; ptxas assembles it for any later arch).</param>
/// <param name="Report">Registers, spills and shared memory.</param>
/// <param name="Cubin">The assembled file.</param>
internal sealed record Assembled(string Arch, string PtxTarget, PtxasReport Report, string Cubin);

/// <summary>
/// The performance proxies that need no GPU: every CUDA kernel of the catalog, in each of its
/// element types, is emitted as PTX (ISA 7.8) and assembled by NVIDIA's ptxas (CUDA 11.8) for
/// sm_80, sm_86, sm_89 and sm_90; it must not spill and must stay within the registers the
/// catalog allows it (registers bound occupancy). The GEMM kernels' hot loops, read from the
/// sm_90 SASS, are printed as an instruction mix, and a kernel with a minimum FFMA share must
/// reach it. Where ptxas is not installed the tests fetch it first (<c>.ci/ptxas.sh</c>), and fail, saying why, if they cannot.
/// </summary>
public sealed class PtxasTests(PtxasFixture fixture, ITestOutputHelper output) : IClassFixture<PtxasFixture>
{
    /// <summary>The catalog's CUDA kernels, in each of their element types.</summary>
    public static IEnumerable<object[]> CudaKernels() =>
        KernelCatalog.All.Where(k => k.Backends.HasFlag(KernelBackends.Cuda))
            .SelectMany(k => k.DTypes.Select(dtype => new object[] { k.Qualified, dtype }));

    /// <summary>The CUDA kernels whose hot loop is printed: the GEMM kernels and any with a minimum FFMA share.</summary>
    public static IEnumerable<object[]> HotLoopKernels() =>
        KernelCatalog.All.Where(k => k.Backends.HasFlag(KernelBackends.Cuda) && (k.Type == typeof(GemmKernels) || k.MinFfmaShare is not null))
            .SelectMany(k => k.DTypes.Select(dtype => new object[] { k.Qualified, dtype }));

    [Theory]
    [MemberData(nameof(CudaKernels))]
    public void Kernel_AssemblesForAmpereAdaAndHopper_WithinItsRegisterBudget_WithoutSpills(string kernel, string dtype)
    {
        Assert.True(PtxTools.Missing is null, PtxTools.Missing);
        var entry = KernelCatalog.Get(kernel);
        var assembled = fixture.Assemble(entry, dtype);
        output.WriteLine($"{kernel} {dtype} (PTX .target {assembled[0].PtxTarget}), budget {entry.MaxRegisters} registers:");
        var failures = new List<string>();
        foreach (var a in assembled)
        {
            output.WriteLine($"  {a.Arch}: {a.Report}");
            if (a.Report.Spills)
                failures.Add($"{a.Arch} spills ({a.Report.SpillStores} B stored, {a.Report.SpillLoads} B loaded)");
            if (a.Report.Registers > entry.MaxRegisters)
                failures.Add($"{a.Arch} uses {a.Report.Registers} registers, over its budget of {entry.MaxRegisters} (KernelCatalog)");
        }

        Assert.True(failures.Count == 0, $"{kernel} {dtype}: " + string.Join("; ", failures));
    }

    [Theory]
    [MemberData(nameof(HotLoopKernels))]
    public void Kernel_HotLoopInstructionMix_OnHopper(string kernel, string dtype)
    {
        Assert.True(PtxTools.Missing is null, PtxTools.Missing);
        var entry = KernelCatalog.Get(kernel);
        var sm90 = fixture.Assemble(entry, dtype).Single(a => a.Arch == "sm_90");
        // ILGPU names the entry point Kernel_<method>; any other function is a callee it did not inline.
        var function = SassFunction.Parse(PtxTools.Run("cuobjdump", "-sass", sm90.Cubin)).Single(f => f.Name.StartsWith("Kernel_", StringComparison.Ordinal));
        var hot = function.HotLoop;
        output.WriteLine($"{kernel} {dtype} sm_90 ({function.Instructions.Count(i => !i.IsNop)} instructions in all): {hot?.ToString() ?? "no loop"}");

        if (entry.MinFfmaShare is double minimum && dtype == "float32")
        {
            Assert.True(hot is not null, $"{kernel}: no loop in its sm_90 SASS");
            Assert.True(
                hot.FfmaShare >= minimum,
                string.Create(CultureInfo.InvariantCulture, $"{kernel}: FFMA is {hot.FfmaShare:P1} of its hot loop, under its minimum of {minimum:P0}: {hot}"));
        }
    }

    /// <summary>The catalog gives a value for each SpecializedValue parameter, and minimum FFMA shares only where ptxas checks them.</summary>
    [Fact]
    public void Catalog_SpecializesEverySpecializedValueParameter_AndSetsFfmaMinimumsOnlyOnCudaKernels()
    {
        foreach (var kernel in KernelCatalog.All)
        {
            var method = kernel.Method(kernel.DTypes.First());
            int specialized = method.GetParameters().Count(p => p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(SpecializedValue<>));
            Assert.True(specialized == (kernel.Specialized?.Length ?? 0),
                $"{kernel.Qualified} has {specialized} SpecializedValue parameter(s), the catalog gives {kernel.Specialized?.Length ?? 0} value(s)");
            if (kernel.MinFfmaShare is double share)
            {
                Assert.True(kernel.Backends.HasFlag(KernelBackends.Cuda), $"{kernel.Qualified}: a minimum FFMA share on a kernel that does not run on CUDA");
                Assert.InRange(share, 0.0, 1.0);
            }
        }
    }
}
