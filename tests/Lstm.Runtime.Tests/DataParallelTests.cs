using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;
using Lstm.Runtime.Training;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>Devices opened once for the data-parallel tests: each name of a pair is its own <see cref="ComputeDevice"/>.</summary>
public sealed class ReplicaDevices : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ComputeDevice[]> _open = [];
    private readonly List<ComputeDevice> _owned = [];

    /// <summary>The devices of a pair such as <c>cpu,ilgpu-cpu</c>: two opens, even of one name.</summary>
    public ComputeDevice[] Get(string pair)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(pair, out var devices))
            {
                // cpu opened here (it costs nothing); the others the shared opens of TestDevices,
                // whose kernels compile once for every test: a name twice is two opens of it.
                var names = pair.Split(',');
                devices = new ComputeDevice[names.Length];
                for (int i = 0; i < names.Length; i++)
                {
                    if (names[i] == ComputeDevice.CpuName)
                        _owned.Add(devices[i] = ComputeDevice.Open(names[i]));
                    else
                        devices[i] = TestDevices.Copy(names[i], names.Take(i).Count(n => n == names[i]));
                }

                _open[pair] = devices;
            }

            return devices;
        }
    }

    public void Dispose()
    {
        foreach (var d in _owned)
            d.Dispose();
    }
}

/// <summary>
/// Data-parallel training (<see cref="DataParallel{T}"/> through <see cref="Trainer{T}"/>) on two
/// devices: the <see cref="Pairs"/> (tiny shapes).
/// </summary>
public sealed class DataParallelTests(ReplicaDevices devices, ITestOutputHelper output) : IClassFixture<ReplicaDevices>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lstm-dp-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary><c>cpu</c> twice, <c>cpu</c> with <c>ilgpu-cpu</c>, <c>ilgpu-cpu</c> twice, and each CUDA and OpenCL device present with <c>cpu</c> and with itself.</summary>
    public static IEnumerable<object[]> Pairs() =>
        Rows(["cpu,cpu", "cpu,ilgpu-cpu", "ilgpu-cpu,ilgpu-cpu", .. GpuBackendDevices().SelectMany(name => new[] { $"cpu,{name}", $"{name},{name}" })]);

    /// <summary><c>cpu</c> with a second <c>cpu</c>, with <c>ilgpu-cpu</c> and with each CUDA and OpenCL device present.</summary>
    public static IEnumerable<object[]> HostPairs() =>
        Rows(["cpu,cpu", "cpu,ilgpu-cpu", .. GpuBackendDevices().Select(name => $"cpu,{name}")]);

    private static IEnumerable<string> GpuBackendDevices() =>
        TestDevices.Available.Where(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL).Select(d => d.Name);

    private static IEnumerable<object[]> Rows(IEnumerable<string> pairs) => pairs.Select(p => new object[] { p });

    private static ModelConfig Config(double dropout = 0) =>
        new(ModelKind.SequenceToOne, CellKind.Lstm, InputSize: 2, HiddenSize: 4, OutputSize: 1, NumLayers: 2, Dropout: dropout);

    private static SequenceNetwork<T>[] Replicas<T>(ComputeDevice[] devs, ModelConfig config, int seed) where T : unmanaged =>
        devs.Select(d => new SequenceNetwork<T>(d, config, seed)).ToArray();

    private static void DisposeAll<T>(IEnumerable<SequenceNetwork<T>> models) where T : unmanaged
    {
        foreach (var m in models)
            m.Dispose();
    }

    private static long[][] Bits(ISequenceModel<double> model) =>
        model.NamedParameters().Select(p => p.Parameter.Value.ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray()).ToArray();

    private static int[][] Bits(ISequenceModel<float> model) =>
        model.NamedParameters().Select(p => p.Parameter.Value.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray()).ToArray();

    private static double[][] Grads<T>(ISequenceModel<T> model) where T : unmanaged =>
        model.NamedParameters().Select(p => p.Parameter.Grad.ToArray().Select(Num<T>.ToDouble).ToArray()).ToArray();

    private static double[][] Weights<T>(ISequenceModel<T> model) where T : unmanaged =>
        model.NamedParameters().Select(p => p.Parameter.Value.ToArray().Select(Num<T>.ToDouble).ToArray()).ToArray();

    /// <summary>max |a - b| / max |b| over all tensors.</summary>
    private static double RelativeError(double[][] a, double[][] b)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++)
        {
            for (int j = 0; j < a[i].Length; j++)
            {
                diff = Math.Max(diff, Math.Abs(a[i][j] - b[i][j]));
                scale = Math.Max(scale, Math.Abs(b[i][j]));
            }
        }

        return diff / scale;
    }

    /// <summary>
    /// One step with learning rate 0 and no clipping leaves the reduced gradient in replica 0:
    /// it equals the one-device gradient of the whole batch up to the summation order.
    /// </summary>
    private double GradientError<T>(string pair, int[] shards) where T : unmanaged
    {
        var devs = devices.Get(pair);
        var train = new AddingTask(5, 16, seed: 1);
        var options = new TrainerOptions { Steps = 1, BatchSize = shards.Sum(), Optimizer = OptimizerKind.Sgd, LearningRate = 0, ClipNorm = 0, Seed = 4, Shards = shards };
        double[][] expected;
        using (var one = new SequenceNetwork<T>(TestDevices.Get("cpu"), Config(), 7))
        using (var trainer = new Trainer<T>(one, train, null, options with { Shards = null }))
        {
            trainer.Run();
            expected = Grads(one);
        }

        var replicas = Replicas<T>(devs, Config(), 7);
        try
        {
            using var trainer = new Trainer<T>(replicas, train, null, options);
            trainer.Run();
            double error = RelativeError(Grads(replicas[0]), expected);
            output.WriteLine($"{pair} {typeof(T).Name} shards {string.Join(",", shards)}: gradient relative error {error:E2}");
            return error;
        }
        finally
        {
            DisposeAll(replicas);
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void ReducedGradients_EqualOneDeviceGradients_Float64(string pair)
    {
        Assert.True(GradientError<double>(pair, [5, 3]) < 1e-12);
        Assert.True(GradientError<double>(pair, [1, 7]) < 1e-12);
    }

    [Theory]
    [MemberData(nameof(HostPairs))]
    public void ReducedGradients_EqualOneDeviceGradients_Float32(string pair) =>
        Assert.True(GradientError<float>(pair, [3, 5]) < 1e-5);

    [Theory]
    [MemberData(nameof(HostPairs))]
    public void ReducedGradients_CrossEntropyEveryStep_EqualOneDeviceGradients_Float64(string pair)
    {
        // A language model: T output rows per sample, so a shard's loss is the mean over shard·T rows.
        var devs = devices.Get(pair);
        string corpus = string.Concat(Enumerable.Repeat("abracadabra, said the cat. ", 3));
        var vocab = CharVocabulary.FromText(corpus);
        var train = new CharTextDataset(vocab.Encode(corpus), steps: 6, stride: 3);
        var options = new TrainerOptions { Steps = 1, BatchSize = 7, Optimizer = OptimizerKind.Sgd, LearningRate = 0, ClipNorm = 0, Loss = LossKind.CrossEntropy, Seed = 2, Shards = [2, 5] };
        CharLanguageModel<double> Model(ComputeDevice d) => new(d, vocab.Size, embeddingDim: 3, hiddenSize: 4, numLayers: 1, seed: 6);
        double[][] expected;
        using (var one = Model(TestDevices.Get("cpu")))
        using (var trainer = new Trainer<double>(one, train, null, options with { Shards = null }))
        {
            trainer.Run();
            expected = Grads(one);
        }

        var replicas = devs.Select(Model).ToArray();
        try
        {
            using var trainer = new Trainer<double>(replicas, train, null, options);
            trainer.Run();
            double error = RelativeError(Grads(replicas[0]), expected);
            output.WriteLine($"{pair} cross-entropy every step: gradient relative error {error:E2}");
            Assert.True(error < 1e-12, $"relative error {error}");
        }
        finally
        {
            foreach (var m in replicas)
                m.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void ShortRun_ReachesTheOneDeviceWeights_Float64(string pair)
    {
        var devs = devices.Get(pair);
        var train = new AddingTask(5, 24, seed: 2);
        var options = new TrainerOptions
        {
            Steps = 5, BatchSize = 8, Optimizer = OptimizerKind.Sgd, LearningRate = 0.2, Momentum = 0.9, ClipNorm = 0.5, Seed = 9, Shards = [6, 2],
        };
        double[][] expected;
        using (var one = new SequenceNetwork<double>(TestDevices.Get("cpu"), Config(), 3))
        using (var trainer = new Trainer<double>(one, train, null, options with { Shards = null }))
        {
            trainer.Run();
            expected = Weights(one);
        }

        var replicas = Replicas<double>(devs, Config(), 3);
        try
        {
            var initial = Weights(replicas[0]);
            using var trainer = new Trainer<double>(replicas, train, null, options);
            trainer.Run();
            double error = RelativeError(Weights(replicas[0]), expected);
            output.WriteLine($"{pair}: weights after 5 steps, relative error {error:E2}");
            Assert.True(error < 1e-10, $"relative error {error}");
            Assert.Equal(-1, trainer.Parallel!.FirstDifferentReplica());
            Assert.True(RelativeError(Weights(replicas[0]), initial) > 1e-3); // it trained
        }
        finally
        {
            DisposeAll(replicas);
        }
    }

    private TrainerOptions RunOptions(string? checkpoints) => new()
    {
        Steps = 6, BatchSize = 6, Optimizer = OptimizerKind.Adam, LearningRate = 2e-2, WarmupSteps = 2, Schedule = ScheduleKind.Cosine,
        ClipNorm = 0.05, ValidateEvery = 2, CheckpointDirectory = checkpoints, Loss = LossKind.Mse, Seed = 5, Shards = [4, 2],
        Devices = ["a", "b"],
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Reruns_AreBitwiseIdentical_AndReplicasStayEqual(string pair)
    {
        var devs = devices.Get(pair);
        var train = new AddingTask(4, 20, seed: 1);
        var valid = new AddingTask(4, 6, seed: 2);
        var options = RunOptions(null);
        var runs = new List<(int[][] Weights, double[] Losses)>();
        for (int run = 0; run < 2; run++)
        {
            var replicas = Replicas<float>(devs, Config(dropout: 0.3), 8);
            try
            {
                var losses = new List<double>();
                using var trainer = new Trainer<float>(replicas, train, valid, options);
                trainer.Progress = new Reporter(p =>
                {
                    losses.Add(p.TrainLoss);
                    Assert.Equal(-1, trainer.Parallel!.FirstDifferentReplica()); // after every step
                });
                trainer.Run();
                Assert.Equal(options.Steps, losses.Count);
                runs.Add((Bits(replicas[0]), losses.ToArray()));
                Assert.Equal(Bits(replicas[0]), Bits(replicas[1]));
            }
            finally
            {
                DisposeAll(replicas);
            }
        }

        Assert.Equal(runs[0].Weights, runs[1].Weights);
        Assert.Equal(runs[0].Losses.Select(BitConverter.DoubleToInt64Bits), runs[1].Losses.Select(BitConverter.DoubleToInt64Bits));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Resume_OnTwoDevices_EqualsTheUninterruptedRunBitwise(string pair)
    {
        var devs = devices.Get(pair);
        var train = new AddingTask(4, 20, seed: 1);
        var valid = new AddingTask(4, 6, seed: 2);
        var options = RunOptions(Path.Combine(_root, pair));
        var whole = new List<double>();
        int[][] wholeWeights;
        var replicas = Replicas<float>(devs, Config(dropout: 0.3), 8);
        try
        {
            using var trainer = new Trainer<float>(replicas, train, valid, options with { CheckpointDirectory = null }) { Progress = new Reporter(p => whole.Add(p.TrainLoss)) };
            trainer.Run();
            wholeWeights = Bits(replicas[0]);
        }
        finally
        {
            DisposeAll(replicas);
        }

        var resumed = new List<double>();
        replicas = Replicas<float>(devs, Config(dropout: 0.3), 8);
        try
        {
            using var trainer = new Trainer<float>(replicas, train, valid, options) { Progress = new Reporter(p => resumed.Add(p.TrainLoss)) };
            trainer.Run(untilStep: 3);
        }
        finally
        {
            DisposeAll(replicas);
        }

        replicas = Replicas<float>(devs, Config(dropout: 0.3), 99); // other initial weights: the checkpoint replaces them in every replica
        try
        {
            using var trainer = new Trainer<float>(replicas, train, valid, options) { Progress = new Reporter(p => resumed.Add(p.TrainLoss)) };
            trainer.Resume(Path.Combine(options.CheckpointDirectory!, "last"));
            Assert.Equal(-1, trainer.Parallel!.FirstDifferentReplica());
            trainer.Run();
            Assert.Equal(wholeWeights, Bits(replicas[0]));
            Assert.Equal(wholeWeights, Bits(replicas[1]));
        }
        finally
        {
            DisposeAll(replicas);
        }

        Assert.Equal(whole.Select(BitConverter.DoubleToInt64Bits), resumed.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void OneReplica_IsTheOneDeviceTrainer_Bitwise()
    {
        var dev = TestDevices.Get("cpu");
        var train = new AddingTask(4, 20, seed: 1);
        var options = RunOptions(null) with { Shards = null, Devices = null };
        int[][] Train(bool list)
        {
            using var model = new SequenceNetwork<float>(dev, Config(dropout: 0.3), 8);
            using var trainer = list
                ? new Trainer<float>([model], train, null, options with { Shards = [6], Devices = ["cpu"] })
                : new Trainer<float>(model, train, null, options);
            trainer.Run();
            Assert.Null(trainer.Parallel);
            Assert.Equal([6], trainer.Shards);
            return Bits(model);
        }

        Assert.Equal(Train(false), Train(true));
    }

    [Fact]
    public void MeasuredShards_SumToTheBatch_AndEachTakesARow()
    {
        var devs = devices.Get("cpu,ilgpu-cpu");
        var train = new AddingTask(4, 20, seed: 1);
        var replicas = Replicas<float>(devs, Config(), 8);
        try
        {
            using var trainer = new Trainer<float>(replicas, train, null, RunOptions(null) with { Shards = null, BatchSize = 8 });
            output.WriteLine($"measured shards cpu,ilgpu-cpu: {string.Join(",", trainer.Shards)}");
            Assert.Equal(8, trainer.Shards.Sum());
            Assert.All(trainer.Shards, s => Assert.True(s >= 1));
            Assert.Equal(trainer.Shards, trainer.Parallel!.Shards);
            Assert.All(trainer.Parallel.Routes, r => Assert.Equal(ReplicaRoute.Host, r));
        }
        finally
        {
            DisposeAll(replicas);
        }
    }

    [Fact]
    public void ProportionalShards_RoundDeterministically()
    {
        Assert.Equal([24, 8], DataParallel<float>.ProportionalShards([3.0, 1.0], 32));
        Assert.Equal([16, 16], DataParallel<float>.ProportionalShards([1.0, 1.0], 32));
        Assert.Equal([2, 2, 1], DataParallel<float>.ProportionalShards([1.0, 1.0, 1.0], 5)); // ties: lower index first
        Assert.Equal([31, 1], DataParallel<float>.ProportionalShards([1000.0, 1.0], 32)); // every device keeps a row
        Assert.Equal([1, 1, 1], DataParallel<float>.ProportionalShards([1e6, 1.0, 1.0], 3));
        Assert.Equal([7, 6], DataParallel<float>.ProportionalShards([1.0, 1.0], 13));
        Assert.Contains("cannot give each of 3 devices", Assert.Throws<LstmException>(() => DataParallel<float>.ProportionalShards([1.0, 1.0, 1.0], 2)).Message);
    }

    [Theory]
    [InlineData("ilgpu-cpu", true)]
    [InlineData("cpu", false)]
    public void HostStage_RoundTrips_PageLockedOnIlgpu(string name, bool pageLocked)
    {
        var dev = devices.Get(name + "," + name)[0];
        var values = Enumerable.Range(0, 37).Select(i => (float)(i * 0.25 - 3)).ToArray();
        using var source = Tensor<float>.FromArray(dev, values, values.Length);
        using var target = Tensor<float>.Zeros(dev, values.Length);
        using var stage = new ReplicaTransfer.HostStage<float>(dev, values.Length);
        Assert.Equal(pageLocked, stage.PageLocked);
        stage.Download(source.Data);
        Assert.Equal(values, stage.Span.ToArray());
        stage.Span[0] = 42;
        stage.Upload(target.Data);
        Assert.Equal([42f, .. values[1..]], target.ToArray());
        Assert.Equal(ReplicaRoute.Host, ReplicaTransfer.Choose(dev, devices.Get(name + "," + name)[1]));
    }

    [Fact]
    public void DropoutSeeds_KeepReplicaZeros_AndDifferPerReplica()
    {
        ulong seed = Trainer<float>.DropoutSeedFor(5, 1);
        Assert.Equal(seed, DataParallel<float>.DropoutSeedFor(seed, 0));
        Assert.NotEqual(seed, DataParallel<float>.DropoutSeedFor(seed, 1));
        Assert.NotEqual(DataParallel<float>.DropoutSeedFor(seed, 1), DataParallel<float>.DropoutSeedFor(seed, 2));
    }

    [Fact]
    public void BadShardsOrReplicas_GiveOneClearMessage()
    {
        var devs = devices.Get("cpu,cpu");
        var train = new AddingTask(4, 20, seed: 1);
        var options = RunOptions(null) with { Devices = null };
        string Message(Action a) => Assert.Throws<LstmException>(a).Message;

        Assert.Contains("shard 1 has 0 rows", Message(() => (options with { Shards = [6, 0] }).Validate()));
        Assert.Contains("sum to 5, not to the batch size 6", Message(() => (options with { Shards = [3, 2] }).Validate()));
        Assert.Contains("3 shard sizes (2,2,2) for 2 devices", Message(() => (options with { Shards = [2, 2, 2], Devices = ["cpu", "cpu"] }).Validate()));
        Assert.Contains("device list is empty", Message(() => (options with { Devices = [] }).Validate()));

        var replicas = Replicas<float>(devs, Config(), 8);
        var other = new SequenceNetwork<float>(devs[1], Config(), 9);
        var sameDevice = new SequenceNetwork<float>(devs[0], Config(), 8);
        try
        {
            Assert.Contains("3 shard sizes (2,2,2) for 2 devices", Message(() => new Trainer<float>(replicas, train, null, options with { Shards = [2, 2, 2] })));
            Assert.Contains("name 3 devices", Message(() => new Trainer<float>(replicas, train, null, options with { Devices = ["cpu", "cpu", "cpu"], Shards = null })));
            Assert.Contains("share one device object", Message(() => new Trainer<float>([replicas[0], sameDevice], train, null, options)));
            Assert.Contains("starts with other values of", Message(() => new Trainer<float>([replicas[0], other], train, null, options)));
            Assert.Contains("batch of 1 cannot give each of 2 devices", Message(() => new Trainer<float>(replicas, train, null, options with { Shards = null, BatchSize = 1 })));
        }
        finally
        {
            DisposeAll(replicas);
            other.Dispose();
            sameDevice.Dispose();
        }
    }

    /// <summary>An <see cref="IProgress{T}"/> that calls its action on the reporting thread.</summary>
    private sealed class Reporter(Action<TrainerProgress> action) : IProgress<TrainerProgress>
    {
        public void Report(TrainerProgress value) => action(value);
    }
}
