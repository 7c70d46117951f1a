using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime.Cuda;
using Lstm.Kernels.Tests.Ptx;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// The grid barrier as the persistent kernels carry it into PTX: scoped acquire/release fences
/// instead of ILGPU's sequentially consistent <c>membar.gl</c>, and a sleep between polls; the
/// portable form (CPU accelerator) is tested by the persistent kernels' own tests. Needs ptxas and
/// cuobjdump as <see cref="PtxasTests"/> does.
/// </summary>
public sealed class GridBarrierPtxTests : IDisposable
{
    private readonly Context _context = Context.Create(b => b.EnableAlgorithms());
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-barrier-").FullName;

    public static IEnumerable<object[]> PersistentKernels() =>
        KernelCatalog.All.Where(k => k.Type.Name.StartsWith("Persistent", StringComparison.Ordinal))
            .SelectMany(k => k.DTypes.Select(dtype => new object[] { k.Qualified, dtype }));

    [Theory]
    [MemberData(nameof(PersistentKernels))]
    public void PersistentKernel_BarrierUsesAcquireReleaseFencesAndSleeps_NotFullFences(string kernel, string dtype)
    {
        string ptx = PtxEmitter.Emit(_context, KernelCatalog.Get(kernel), dtype, CudaArchitecture.SM_80);
        int fences = Regex.Matches(ptx, @"fence\.acq_rel\.gpu;").Count;
        // Arrival, the last arrival's hand-over, a waiter's acquire.
        Assert.True(fences >= 3, $"{kernel} {dtype}: {fences} acq_rel fences in its PTX");
        Assert.Contains("nanosleep.u32", ptx, StringComparison.Ordinal);

        // The portable form stays in the PTX behind a constant predicate; ptxas drops it, so the
        // machine code has no sequentially consistent fence, only the acquire/release ones.
        string stem = Path.Combine(_dir, $"{kernel}.{dtype}");
        File.WriteAllText(stem + ".ptx", ptx);
        PtxTools.Run("ptxas", "-arch=sm_90", stem + ".ptx", "-o", stem + ".cubin");
        string sass = PtxTools.Run("cuobjdump", "-sass", stem + ".cubin");
        Assert.DoesNotContain("MEMBAR.SC", sass, StringComparison.Ordinal);
        Assert.True(Regex.Matches(sass, @"MEMBAR\.ALL\.GPU").Count >= 3, $"{kernel} {dtype}: the acq_rel fences are not in the SASS");
        Assert.Contains("NANOSLEEP", sass, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _context.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
