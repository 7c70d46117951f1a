using Lstm.Runtime.Backends;
using Lstm.Runtime.Models;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// Data-parallel training over several devices in one process: replica r of the model lives on
/// its own device and takes rows [Offsets[r], Offsets[r] + Shards[r]) of every batch. The replicas
/// run their forward and backward passes at once, a thread per replica (<see cref="ForEachReplica"/>);
/// <see cref="ReduceGradients"/> then adds their gradients into replica 0 in a fixed order, replica 0
/// alone takes the optimizer step, and <see cref="BroadcastWeights"/> copies its weights to the
/// others, so every replica holds the same weights bit for bit and a run is deterministic.
/// </summary>
/// <remarks>
/// <para>
/// The reduction: on the host route (<see cref="ReplicaRoute.Host"/>) each replica's gradients are
/// downloaded into host buffers (page-locked on ILGPU accelerators) and summed per element in
/// float64 as g₀ + g₁ + … + g_{n-1}, then rounded to T once; on the peer route (two CUDA devices with
/// peer access) replica r's gradients are copied into a scratch buffer on replica 0 and added there
/// in T, in replica order after the host-route replicas' sum. <see cref="ReplicaTransfer.Choose"/> is the one place the route is chosen.
/// </para>
/// <para>
/// Replica 0 steps and broadcasts rather than every replica applying the update: the backends'
/// optimizer kernels are not bit-identical across devices (e.g. <c>cpu</c> and an ILGPU accelerator
/// round Adam's square root and fused multiply-adds differently), and a broadcast costs one copy of
/// the weights, the size of the gradients' copy.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class DataParallel<T> : IDisposable where T : unmanaged
{
    private readonly ISequenceModel<T>[] _replicas;
    private readonly Parameter<T>[][] _parameters;
    private readonly int[] _shards;
    private readonly int[] _offsets;
    private readonly ReplicaRoute[] _routes;
    private readonly ReplicaTransfer.HostStage<T>[]?[] _gradStages;
    private readonly ReplicaTransfer.HostStage<T>[]?[] _weightStages;
    private readonly DeviceBuffer<T>?[] _peerScratch;
    private readonly StageRunner _threads;
    private readonly double[][] _sums;

    /// <summary>
    /// Takes replicas built from the same configuration and seed (checked: their parameter names,
    /// shapes and values must be equal) on distinct devices, and the rows of each batch each one takes.
    /// </summary>
    /// <param name="replicas">Replica 0 (the one that steps, validates and checkpoints) first; not disposed here.</param>
    /// <param name="shards">Rows per replica, each ≥ 1, one per replica; the batch size is their sum.</param>
    /// <exception cref="LstmException">Fewer than one replica, a shard count that differs from the replica count, a shard below 1, two replicas on one device object, or replicas whose weights differ.</exception>
    public DataParallel(IReadOnlyList<ISequenceModel<T>> replicas, IReadOnlyList<int> shards)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        ArgumentNullException.ThrowIfNull(shards);
        if (replicas.Count == 0)
            throw new LstmException("data parallel: no replicas");
        CheckShards(shards, replicas.Count, null);
        _replicas = replicas.ToArray();
        _shards = shards.ToArray();
        _offsets = new int[_shards.Length];
        for (int r = 1; r < _shards.Length; r++)
            _offsets[r] = _offsets[r - 1] + _shards[r - 1];
        BatchSize = _offsets[^1] + _shards[^1];
        for (int r = 0; r < _replicas.Length; r++)
        {
            for (int q = 0; q < r; q++)
            {
                if (ReferenceEquals(_replicas[q].Device, _replicas[r].Device))
                    throw new LstmException($"data parallel: replicas {q} and {r} share one device object ({_replicas[r].Device.Name}); open the device once per replica (two opens of the same name are two devices)");
            }
        }

        var named = _replicas.Select(m => m.NamedParameters().ToArray()).ToArray();
        CheckEqual(named);
        _parameters = named.Select(ps => ps.Select(p => p.Parameter).ToArray()).ToArray();
        _routes = _replicas.Select((m, r) => r == 0 ? ReplicaRoute.Host : ReplicaTransfer.Choose(m.Device, _replicas[0].Device)).ToArray();
        _gradStages = new ReplicaTransfer.HostStage<T>[]?[_replicas.Length];
        _weightStages = new ReplicaTransfer.HostStage<T>[]?[_replicas.Length];
        _peerScratch = new DeviceBuffer<T>?[_parameters[0].Length];
        _sums = _parameters[0].Select(p => new double[p.Grad.Length]).ToArray();
        _threads = new StageRunner(_replicas.Length, "lstm replica");
    }

    /// <summary>The replicas; replica 0 steps, validates and is checkpointed.</summary>
    public IReadOnlyList<ISequenceModel<T>> Replicas => _replicas;

    /// <summary>Rows of each batch per replica.</summary>
    public IReadOnlyList<int> Shards => _shards;

    /// <summary>The first row of each replica's shard.</summary>
    public IReadOnlyList<int> Offsets => _offsets;

    /// <summary>B: rows of a whole batch (the sum of the shards).</summary>
    public int BatchSize { get; }

    /// <summary>The copy route between each replica and replica 0 (<see cref="ReplicaRoute.Host"/> for replica 0 itself).</summary>
    public IReadOnlyList<ReplicaRoute> Routes => _routes;

    /// <summary>
    /// Throws <see cref="LstmException"/> unless there is one shard per device, each ≥ 1, and (when
    /// <paramref name="batchSize"/> is given) they sum to it.
    /// </summary>
    /// <param name="shards">Rows per device.</param>
    /// <param name="devices">Devices.</param>
    /// <param name="batchSize">B, or null to skip the sum's check.</param>
    public static void CheckShards(IReadOnlyList<int> shards, int devices, int? batchSize)
    {
        ArgumentNullException.ThrowIfNull(shards);
        string list = string.Join(",", shards);
        if (shards.Count != devices)
            throw new LstmException($"data parallel: {shards.Count} shard sizes ({list}) for {devices} devices: give one per device");
        for (int r = 0; r < shards.Count; r++)
        {
            if (shards[r] < 1)
                throw new LstmException($"data parallel: shard {r} has {shards[r]} rows ({list}): every device needs at least 1 row of each batch");
        }

        long sum = shards.Sum(s => (long)s);
        if (batchSize is { } b && sum != b)
            throw new LstmException($"data parallel: the shard sizes {list} sum to {sum}, not to the batch size {b}");
    }

    /// <summary>
    /// Splits a batch in proportion to the devices' speeds, rounded deterministically: each shard is
    /// ⌊B·speed/Σspeed⌋ but at least 1, then rows are added to (or taken from) the shards furthest below
    /// (above) their exact share, the lowest index first on ties, until the shards sum to B.
    /// </summary>
    /// <param name="speeds">Relative speed of each device (&gt; 0, e.g. 1 / seconds per step).</param>
    /// <param name="batchSize">B (≥ the number of devices).</param>
    public static int[] ProportionalShards(IReadOnlyList<double> speeds, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(speeds);
        int n = speeds.Count;
        if (n == 0)
            throw new LstmException("data parallel: no devices to split the batch over");
        if (batchSize < n)
            throw new LstmException($"data parallel: a batch of {batchSize} rows cannot give each of {n} devices a row");
        foreach (double s in speeds)
        {
            if (!(s > 0) || double.IsInfinity(s))
                throw new LstmException($"data parallel: device speed {s} must be a finite number > 0");
        }

        double total = speeds.Sum();
        var exact = speeds.Select(s => batchSize * s / total).ToArray();
        var shards = exact.Select(e => Math.Max(1, (int)Math.Floor(e))).ToArray();
        int sum = shards.Sum();
        while (sum < batchSize)
        {
            int best = 0;
            for (int r = 1; r < n; r++)
            {
                if (exact[r] - shards[r] > exact[best] - shards[best])
                    best = r;
            }

            shards[best]++;
            sum++;
        }

        while (sum > batchSize)
        {
            int best = -1;
            for (int r = 0; r < n; r++)
            {
                if (shards[r] > 1 && (best < 0 || shards[r] - exact[r] > shards[best] - exact[best]))
                    best = r;
            }

            shards[best]--;
            sum--;
        }

        return shards;
    }

    /// <summary>
    /// The dropout seed of replica <paramref name="replica"/> in a step whose one-device seed is
    /// <paramref name="stepSeed"/>: replica 0 keeps it, the others mix in their index (SplitMix64).
    /// </summary>
    /// <remarks>
    /// A mask element is keyed by its index in the layer's output [T, B, H]; a shard's output is
    /// [T, s, H], whose rows do not sit at one offset of the full batch's (the step stride differs),
    /// so the dropout operation's base index cannot make the shards' masks equal the one-device run's.
    /// The masks differ from it, but independently per shard and deterministically per (seed, step, shards).
    /// </remarks>
    /// <param name="stepSeed">The step's seed (<see cref="Trainer{T}.DropoutSeedFor"/>).</param>
    /// <param name="replica">The replica.</param>
    public static ulong DropoutSeedFor(ulong stepSeed, int replica)
    {
        if (replica == 0)
            return stepSeed;
        unchecked
        {
            ulong z = stepSeed ^ ((ulong)replica * 0x9E3779B97F4A7C15UL);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Runs <paramref name="body"/>(r) for every replica at once, each on its own thread (replica 0 on the caller's), with the replica's device bound to that thread.</summary>
    /// <param name="body">The work of replica r; it must touch only replica r's model and device.</param>
    public void ForEachReplica(Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        _threads.Run((r, _) =>
        {
            ReplicaTransfer.Bind(_replicas[r].Device);
            body(r);
        });
        ReplicaTransfer.Bind(_replicas[0].Device);
    }

    /// <summary>
    /// Sets replica 0's gradients to the sum of all replicas' gradients, added in replica order
    /// (see the remarks of <see cref="DataParallel{T}"/>). The other replicas' gradients are left as they were.
    /// </summary>
    public void ReduceGradients()
    {
        if (_replicas.Length == 1)
            return;
        // Each replica downloads its own gradients on its own thread (host route).
        ForEachReplica(r =>
        {
            if (_routes[r] != ReplicaRoute.Host)
                return;
            var stages = _gradStages[r] ??= Stages(r);
            for (int i = 0; i < stages.Length; i++)
                stages[i].Download(_parameters[r][i].Grad.Data);
        });

        var ops0 = _replicas[0].Device.Ops<T>();
        var primary = _parameters[0];
        for (int i = 0; i < primary.Length; i++)
        {
            var sum = _sums[i];
            if (sum.Length == 0)
                continue;
            // Host route: g₀ + g₁ + … in float64, replica order, rounded once.
            var g0 = _gradStages[0]![i].Span;
            for (int j = 0; j < sum.Length; j++)
                sum[j] = Num<T>.ToDouble(g0[j]);
            bool anyHost = false;
            for (int r = 1; r < _replicas.Length; r++)
            {
                if (_routes[r] != ReplicaRoute.Host)
                    continue;
                anyHost = true;
                var g = _gradStages[r]![i].Span;
                for (int j = 0; j < sum.Length; j++)
                    sum[j] += Num<T>.ToDouble(g[j]);
            }

            if (anyHost)
            {
                var stage = _gradStages[0]![i];
                var span = stage.Span;
                for (int j = 0; j < sum.Length; j++)
                    span[j] = Num<T>.From(sum[j]);
                stage.Upload(primary[i].Grad.Data);
            }

            // Peer route: replica r's gradient copied to replica 0 and added there in T, replica order.
            for (int r = 1; r < _replicas.Length; r++)
            {
                if (_routes[r] != ReplicaRoute.PeerToPeer)
                    continue;
                var scratch = _peerScratch[i] ??= ops0.Allocate(primary[i].Grad.Length);
                ReplicaTransfer.CopyPeer(_replicas[r].Device, _parameters[r][i].Grad.Data, _replicas[0].Device, scratch.All);
                ops0.Axpy(Num<T>.From(1.0), scratch.All, primary[i].Grad.Data);
            }
        }
    }

    /// <summary>Copies replica 0's weights into every other replica (done when this returns).</summary>
    public void BroadcastWeights()
    {
        if (_replicas.Length == 1)
            return;
        var primary = _parameters[0];
        var source = _weightStages[0] ??= Stages(0);
        if (_routes.Skip(1).Any(r => r == ReplicaRoute.Host))
        {
            for (int i = 0; i < primary.Length; i++)
                source[i].Download(primary[i].Value.Data);
        }
        else
        {
            _replicas[0].Device.Synchronize();
        }

        ForEachReplica(r =>
        {
            if (r == 0)
                return;
            var mine = _parameters[r];
            if (_routes[r] == ReplicaRoute.PeerToPeer)
            {
                for (int i = 0; i < mine.Length; i++)
                    ReplicaTransfer.CopyPeer(_replicas[0].Device, primary[i].Value.Data, _replicas[r].Device, mine[i].Value.Data);
                return;
            }

            var stages = _weightStages[r] ??= Stages(r);
            for (int i = 0; i < mine.Length; i++)
            {
                source[i].Span.CopyTo(stages[i].Span);
                stages[i].Upload(mine[i].Value.Data);
            }
        });
    }

    /// <summary>The first replica whose weights differ in any bit from replica 0's, or -1 when all are equal.</summary>
    public int FirstDifferentReplica()
    {
        var reference = _parameters[0].Select(p => p.Value.ToArray()).ToArray();
        for (int r = 1; r < _replicas.Length; r++)
        {
            for (int i = 0; i < reference.Length; i++)
            {
                if (!Bits(_parameters[r][i].Value.ToArray()).SequenceEqual(Bits(reference[i])))
                    return r;
            }
        }

        return -1;
    }

    /// <summary>Ends the replica threads and frees the host and scratch buffers (not the replicas).</summary>
    public void Dispose()
    {
        _threads.Dispose();
        foreach (var stages in _gradStages.Concat(_weightStages))
        {
            foreach (var s in stages ?? [])
                s.Dispose();
        }

        foreach (var b in _peerScratch)
            b?.Dispose();
    }

    private ReplicaTransfer.HostStage<T>[] Stages(int replica) =>
        _parameters[replica].Select(p => new ReplicaTransfer.HostStage<T>(_replicas[replica].Device, p.Value.Length)).ToArray();

    private static ReadOnlySpan<byte> Bits(T[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());

    /// <summary>Throws unless every replica has replica 0's parameter names, shapes and values.</summary>
    private void CheckEqual((string Name, Parameter<T> Parameter)[][] named)
    {
        var first = named[0];
        var values = first.Select(p => p.Parameter.Value.ToArray()).ToArray();
        for (int r = 1; r < named.Length; r++)
        {
            string who = $"data parallel: replica {r} ({_replicas[r].Device.Name})";
            if (named[r].Length != first.Length)
                throw new LstmException($"{who} has {named[r].Length} parameters, replica 0 has {first.Length}: build every replica from the same configuration");
            for (int i = 0; i < first.Length; i++)
            {
                var (name, p) = named[r][i];
                if (name != first[i].Name || !p.Shape.SequenceEqual(first[i].Parameter.Shape))
                    throw new LstmException($"{who} has parameter {name} [{string.Join(", ", p.Shape)}] where replica 0 has {first[i].Name} [{string.Join(", ", first[i].Parameter.Shape)}]: build every replica from the same configuration");
                if (!Bits(p.Value.ToArray()).SequenceEqual(Bits(values[i])))
                    throw new LstmException($"{who} starts with other values of {name} than replica 0: build every replica from the same configuration and seed");
            }
        }
    }
}
