using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>
/// What the <c>cpu</c> device promises of every cell: no allocation per time step and clear errors
/// for bad input.
/// </summary>
public class CpuCellTests : CpuCellTestBase
{
    [Fact]
    public void TimeStepOperations_AllocateNothing()
    {
        var ops = Ops<float>();
        const int batch = 5, hidden = 21;
        using var xproj = ops.Allocate(batch * 3 * hidden);
        using var hproj = ops.Allocate(batch * 3 * hidden);
        using var bias = ops.Allocate(3 * hidden);
        using var h = ops.Allocate(batch * hidden);
        using var acts = ops.Allocate(batch * 4 * hidden);
        using var dgX = ops.Allocate(batch * 3 * hidden);
        using var dgH = ops.Allocate(batch * 3 * hidden);
        using var dy = ops.Allocate(batch * hidden);
        void Step()
        {
            ops.GruCellForward(batch, hidden, xproj.All, hproj.All, bias.All, bias.All, h.All, h.All, acts.All);
            ops.GruCellForward(batch, hidden, xproj.All, hproj.All, null, null, h.All, h.All, null);
            ops.GruCellBackward(batch, hidden, dy.All, dy.All, acts.All, h.All, dgX.All, dgH.All, dy.All);
            ops.RnnCellForward(batch, hidden, false, dy.All, h.All, null, null, h.All);
            ops.RnnCellForward(batch, hidden, true, dy.All, h.All, bias.All, bias.All, h.All);
            ops.RnnCellBackward(batch, hidden, false, dy.All, dy.All, h.All, dy.All);
            ops.Dropout(7, 1, 0, 0.25f, h.All, h.All);
        }

        // Past tiered compilation's call counting (30 calls of each method), whose bookkeeping
        // can allocate on the calling thread once: the steady state is what is measured.
        for (int i = 0; i < 64; i++)
            Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Cells_ThrowOnShortBuffersAndUnknownActivation()
    {
        var ops = Ops<float>();
        using var small = ops.Allocate(5);
        using var big = ops.Allocate(64);
        var gru = Assert.Throws<LstmException>(() =>
            ops.GruCellForward(2, 3, small.All, big.All, null, null, big.All, big.All, null));
        Assert.Contains("xproj [B, 3H]", gru.Message);
        var rnn = Assert.Throws<LstmException>(() =>
            ops.RnnCellBackward(2, 3, false, big.All, big.All, small.All, big.All));
        Assert.Contains("h_t [B, H]", rnn.Message);
        var act = Assert.Throws<LstmException>(() => new RNNOptions(2, 3, Nonlinearity: (RnnNonlinearity)7).Validate());
        Assert.Contains("nonlinearity", act.Message);
    }
}
