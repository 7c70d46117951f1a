using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Lstm.Bench;

/// <summary>
/// Three measurements of the machine that decide the batch-1 LSTM's speed on the <c>cpu</c>
/// device, printed in a few seconds (<c>dotnet run -c Release --project bench/Lstm.Bench -- probe</c>),
/// to be taken beside a benchmark run:
/// <list type="bullet">
/// <item>one core streaming a 512 KiB block from its L2 (the loop's share of W_hh at H = 256) with
/// the recurrent product's loads and FMAs;</item>
/// <item>two cores doing it at once, each over a block of its own, as the loop's two shares do;</item>
/// <item>the round trip of one cache line between two cores (each step's meeting and h exchange).</item>
/// </list>
/// On a virtual machine the two vCPUs may be two cores, each with its own L2 (two streams about as
/// fast as one), or two hardware threads of one core sharing its L2 (two 512 KiB streams no longer
/// fit and take several times as long, and the round trip is short); PyTorch's times move with it too.
/// </summary>
public static unsafe class MachineProbe
{
    private const int BlockFloats = 128 * 1024;
    private const int Passes = 4000;

    /// <summary>Runs the three measurements and prints one line each.</summary>
    public static void Run()
    {
        Console.WriteLine($"machine probe: {Environment.ProcessorCount} threads, Vector512 {(Vector512.IsHardwareAccelerated ? "yes" : "no")}");
        Console.WriteLine($"  one core, 512 KiB stream:   {OneStream():F2} us (median of {Passes})");
        var (a, b) = TwoStreams();
        Console.WriteLine($"  two cores, 512 KiB each:    {a:F2} / {b:F2} us");
        Console.WriteLine($"  cache-line round trip:      {RoundTripNs():F0} ns");
    }

    private static double OneStream()
    {
        using var block = new Block();
        return Median(block.Pointer);
    }

    private static (double, double) TwoStreams()
    {
        if (Environment.ProcessorCount < 2)
            return (double.NaN, double.NaN);
        var results = new double[2];
        using var start = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(id => new Thread(() =>
        {
            using var block = new Block();
            start.SignalAndWait();
            results[id] = Median(block.Pointer);
        })).ToArray();
        foreach (var t in threads)
            t.Start();
        foreach (var t in threads)
            t.Join();
        return (results[0], results[1]);
    }

    private static double RoundTripNs()
    {
        if (Environment.ProcessorCount < 2)
            return double.NaN;
        const int trips = 200_000;
        // Two slots 128 bytes apart: each side writes its own line and spins on the other's.
        var slots = new long[32];
        var partner = new Thread(() =>
        {
            for (long i = 1; i <= trips; i++)
            {
                while (Volatile.Read(ref slots[0]) != i)
                    Thread.SpinWait(1);
                Volatile.Write(ref slots[16], i);
            }
        });
        partner.Start();
        long t0 = Stopwatch.GetTimestamp();
        for (long i = 1; i <= trips; i++)
        {
            Volatile.Write(ref slots[0], i);
            while (Volatile.Read(ref slots[16]) != i)
                Thread.SpinWait(1);
        }

        long t1 = Stopwatch.GetTimestamp();
        partner.Join();
        return (t1 - t0) * 1e9 / Stopwatch.Frequency / trips;
    }

    private static double Median(float* block)
    {
        var times = new double[Passes];
        float sink = 0;
        for (int r = 0; r < Passes; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            sink += Pass(block).ToScalar();
            times[r] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency;
        }

        GC.KeepAlive(sink);
        Array.Sort(times);
        return times[Passes / 2];
    }

    /// <summary>
    /// One pass as the batch-1 recurrent product makes it: 1024 rows of 128 floats, each row eight
    /// vector loads FMA'd into eight accumulators by one broadcast value.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> Pass(float* w)
    {
        var x = Vector512.Create(1e-3f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int k = 0; k < BlockFloats; k += 128)
        {
            float* q = w + k;
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 16), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 32), x, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 48), x, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 64), x, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 80), x, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 96), x, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.Load(q + 112), x, a7);
        }

        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }

    /// <summary>A 64-byte-aligned native block of 512 KiB, written once so every page is mapped.</summary>
    private sealed class Block : IDisposable
    {
        public Block()
        {
            Pointer = (float*)NativeMemory.AlignedAlloc(BlockFloats * sizeof(float), 64);
            for (int i = 0; i < BlockFloats; i++)
                Pointer[i] = i * 1e-7f;
        }

        public float* Pointer { get; private set; }

        public void Dispose()
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}
