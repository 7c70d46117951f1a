using Lstm.Kernels;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The bookkeeping of recorded step loops (<see cref="StepLoopGraphCache{TGraph}"/>, <see cref="GraphKey"/>),
/// on the host: when a loop is recorded, replayed or left alone, which recordings are destroyed,
/// and which differences between two loops make different keys.
/// </summary>
public sealed class StepLoopGraphCacheTests
{
    private static GraphKey Key(params long[] values) => new(typeof(float), values);

    [Fact]
    public void Key_EqualsByKindAndEveryValue()
    {
        Assert.Equal(Key(1, 2, 3), Key(1, 2, 3));
        Assert.Equal(Key(1, 2, 3).GetHashCode(), Key(1, 2, 3).GetHashCode());
        Assert.NotEqual(Key(1, 2, 3), Key(1, 2, 4));
        Assert.NotEqual(Key(1, 2, 3), Key(1, 2));
        Assert.NotEqual(Key(1, 2, 3), new GraphKey(typeof(double), [1, 2, 3]));
    }

    [Fact]
    public void NewKey_RunsPlain_SecondSighting_Records_ThenReplays()
    {
        var cache = new StepLoopGraphCache<int>(4, _ => { });
        Assert.Equal(GraphDecision.RunPlain, cache.Lookup(Key(7), out _));
        Assert.Equal(GraphDecision.Record, cache.Lookup(Key(7), out _));
        cache.Store(Key(7), 70);
        Assert.Equal(GraphDecision.Replay, cache.Lookup(Key(7), out int graph));
        Assert.Equal(70, graph);
        Assert.Equal(GraphDecision.Replay, cache.Lookup(Key(7), out graph));
        Assert.Equal(70, graph);
        Assert.Equal(GraphDecision.RunPlain, cache.Lookup(Key(8), out _));
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void FailedKey_IsNeverRecordedAgain_AndItsRecordingIsDestroyed()
    {
        var destroyed = new List<int>();
        var cache = new StepLoopGraphCache<int>(4, destroyed.Add);
        cache.Lookup(Key(1), out _);
        cache.Lookup(Key(1), out _);
        cache.Store(Key(1), 10);
        cache.Fail(Key(1));
        Assert.Equal([10], destroyed);
        for (int i = 0; i < 3; i++)
            Assert.Equal(GraphDecision.RunPlain, cache.Lookup(Key(1), out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void PastCapacity_TheLeastRecentlyUsedRecordingIsDestroyed()
    {
        var destroyed = new List<int>();
        var cache = new StepLoopGraphCache<int>(2, destroyed.Add);
        foreach (long k in new long[] { 1, 2 })
        {
            cache.Lookup(Key(k), out _);
            cache.Lookup(Key(k), out _);
            cache.Store(Key(k), (int)k * 10);
        }

        // Key 1 used last: key 2 is the one to go.
        Assert.Equal(GraphDecision.Replay, cache.Lookup(Key(1), out _));
        cache.Lookup(Key(3), out _);
        Assert.Equal(GraphDecision.Record, cache.Lookup(Key(3), out _));
        cache.Store(Key(3), 30);
        Assert.Equal([20], destroyed);
        Assert.Equal(2, cache.Count);
        Assert.Equal(GraphDecision.Replay, cache.Lookup(Key(1), out int one));
        Assert.Equal(10, one);
        Assert.Equal(GraphDecision.Replay, cache.Lookup(Key(3), out int three));
        Assert.Equal(30, three);

        cache.Clear();
        Assert.Equal([10, 20, 30], destroyed.Order());
        Assert.Equal(0, cache.Keys);
    }

    [Fact]
    public void KeysSeenOnce_AreRememberedUpToFourTimesTheCapacity()
    {
        var cache = new StepLoopGraphCache<int>(2, _ => { });
        for (long k = 0; k < 100; k++)
            Assert.Equal(GraphDecision.RunPlain, cache.Lookup(Key(k), out _));
        Assert.Equal(8, cache.Keys);
        // The newest are remembered, the oldest forgotten.
        Assert.Equal(GraphDecision.Record, cache.Lookup(Key(99), out _));
        Assert.Equal(GraphDecision.RunPlain, cache.Lookup(Key(0), out _));
    }

    /// <summary>The device key of a loop: the same buffers give the same key; another slice, a missing operand, another size or another lane's operations do not.</summary>
    [Fact]
    public void DeviceKey_CoversEveryAddressLengthSizeAndTheOperations()
    {
        using var device = ComputeDevice.OpenIlgpuCpu(4, 2, 2);
        var ops = (IlgpuOps<float, F32Ops>)device.Ops<float>();
        using var a = ops.Allocate(64);
        using var b = ops.Allocate(64);
        StepLoopKey<float> Loop(BufferSlice<float>? second, int steps = 5) => new(typeof(float), [steps, 3], [a.Slice(0, 32), second]);

        var key = ops.KeyOf(Loop(b.All));
        Assert.Equal(key, ops.KeyOf(Loop(b.All)));
        Assert.NotEqual(key, ops.KeyOf(Loop(b.Slice(4, 60))));
        Assert.NotEqual(key, ops.KeyOf(Loop(b.Slice(0, 32))));
        Assert.NotEqual(key, ops.KeyOf(Loop(a.Slice(32, 32))));
        Assert.NotEqual(key, ops.KeyOf(Loop(null)));
        Assert.NotEqual(key, ops.KeyOf(Loop(b.All, steps: 6)));
        Assert.NotEqual(key, ops.KeyOf(new StepLoopKey<float>(typeof(double), [5, 3], [a.Slice(0, 32), b.All])));
        var lane = (IlgpuOps<float, F32Ops>)device.Ops<float>(1);
        Assert.NotSame(ops, lane);
        Assert.NotEqual(key, lane.KeyOf(Loop(b.All)));
    }

    /// <summary>Only CUDA records: elsewhere the loop is left to the caller, and nothing runs.</summary>
    [Fact]
    public void OffCuda_NothingIsRecorded_AndTheLoopIsLeftToTheCaller()
    {
        using var device = ComputeDevice.OpenIlgpuCpu(4, 2, 2);
        var ops = (IlgpuOps<float, F32Ops>)device.Ops<float>();
        Assert.False(ops.RecordsStepLoops);
        Assert.False(StepLoopGraphs.For(device.Accelerator).Supported);
        bool ran = false;
        using var a = ops.Allocate(8);
        Assert.False(ops.TryRunStepLoop(new StepLoopKey<float>(typeof(float), [1], [a.All]), () => ran = true));
        Assert.False(ran);
    }
}
