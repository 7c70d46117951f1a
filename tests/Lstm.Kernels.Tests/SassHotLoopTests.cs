using Lstm.Kernels.Tests.Ptx;


namespace Lstm.Kernels.Tests;

/// <summary>
/// The SASS reader and hot-loop finder the ptxas checks rely on, on a small listing in
/// <c>cuobjdump -sass</c>'s format (tests/data/sass/loops.sass): an outer loop holding two inner
/// loops, NOPs, a forward branch, and the self-branch ptxas puts after the last EXIT.
/// </summary>
public sealed class SassHotLoopTests
{
    private static readonly IReadOnlyList<SassFunction> Listing =
        SassFunction.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "sass", "loops.sass")));

    private static SassFunction Loops => Listing.Single(f => f.Name == "Kernel_Loops");

    [Fact]
    public void Parse_ReadsEachFunctionAndEveryInstruction()
    {
        Assert.Equal(["Kernel_Loops", "Kernel_Straight"], Listing.Select(f => f.Name));
        Assert.Equal(26, Loops.Instructions.Count);
        Assert.Equal(Enumerable.Range(0, 26).Select(i => (long)i * 16), Loops.Instructions.Select(i => i.Address));

        var load = Loops.Instructions.Single(i => i.Address == 0xc0);
        Assert.Equal(("LDS.128", "LDS", "R8, [R3+0x10]"), (load.Mnemonic, load.Opcode, load.Operands));

        var branch = Loops.Instructions.Single(i => i.Address == 0x130);
        Assert.Equal(("@!P2", "BRA", 0xc0L), (branch.Predicate, branch.Mnemonic, branch.BranchTarget!.Value));
        Assert.True(branch.IsBackwardBranch);

        Assert.False(Loops.Instructions.Single(i => i.Address == 0x30).IsBackwardBranch); // forward
        Assert.False(Loops.Instructions.Single(i => i.Address == 0x180).IsBackwardBranch); // to itself, after EXIT
        Assert.True(Loops.Instructions.Single(i => i.Address == 0x190).IsNop); // "NOP;" as ptxas pads
    }

    [Fact]
    public void Loops_AreEachBackwardBranchWithItsTarget_AndInnermostAreThoseHoldingNoOther()
    {
        Assert.Equal([(0x60L, 0x150L), (0x70L, 0xb0L), (0xc0L, 0x130L)], Loops.Loops.Select(l => (l.Start, l.End)));
        Assert.Equal([(0x70L, 0xb0L), (0xc0L, 0x130L)], Loops.InnermostLoops.Select(l => (l.Start, l.End)));
    }

    [Fact]
    public void HotLoop_IsTheLargestInnermostLoop_AndItsFfmaShareLeavesNopsOut()
    {
        var hot = Loops.HotLoop!;
        Assert.Equal((0xc0L, 0x130L), (hot.Start, hot.End));
        Assert.Equal(8, hot.Instructions.Count);
        Assert.Equal(7, hot.Count);
        Assert.Equal(4, hot.Ffma);
        Assert.Equal(4.0 / 7.0, hot.FfmaShare, 12);
        Assert.Equal([("FFMA", 4), ("BRA", 1), ("IADD3", 1), ("LDS", 1)], hot.Mix);
        Assert.StartsWith("hot loop 0x00c0-0x0130: 7 instructions, 4 FFMA (57.1", hot.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void HotLoop_IsNull_WithoutABackwardBranch()
    {
        var straight = Listing.Single(f => f.Name == "Kernel_Straight");
        Assert.Equal(6, straight.Instructions.Count);
        Assert.Empty(straight.Loops);
        Assert.Null(straight.HotLoop);
    }

    [Fact]
    public void PtxasReport_ReadsRegistersSpillsStackAndSharedMemory()
    {
        const string text = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Function properties for helper
                24 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
            ptxas info    : Compiling entry function 'Kernel_Tiled' for 'sm_90'
            ptxas info    : Function properties for Kernel_Tiled
                16 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
            ptxas info    : Used 40 registers, 2048 bytes smem, 380 bytes cmem[0]
            """;
        Assert.Equal(new PtxasReport(40, 12, 16, 24, 2048), PtxasReport.Parse(text));
        Assert.True(PtxasReport.Parse(text).Spills);

        var plain = PtxasReport.Parse("""
            ptxas info    : Compiling entry function 'Kernel_Fill' for 'sm_80'
            ptxas info    : Function properties for Kernel_Fill
                0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 14 registers
            """);
        Assert.Equal(new PtxasReport(14, 0, 0, 0, 0), plain);
        Assert.False(plain.Spills);
        Assert.Throws<FormatException>(() => PtxasReport.Parse("ptxas fatal   : Unresolved extern function"));
    }
}
