using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests;

/// <summary>
/// The <c>cpu</c> device's optimizer, loss, embedding and gather operations against the ILGPU
/// kernels themselves run by ILGPU's CPU accelerator: the host code keeps the kernels' operation
/// order, so the two agree bit for bit, also at sizes the host splits across cores.
/// </summary>
public class CpuTrainingOpsTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Types() => [["float32"], ["float64"]];

    private static (IDeviceOps<T> Cpu, IDeviceOps<T> Ilgpu) Pair<T>() where T : unmanaged =>
        (TestDevices.Get(ComputeDevice.CpuName).Ops<T>(), TestDevices.Get("ilgpu-cpu").Ops<T>());

    /// <summary>Runs <paramref name="op"/> on both devices over copies of the same inputs and compares every buffer exactly.</summary>
    private void SameBits<T>(string what, double[][] inputs, Action<IDeviceOps<T>, DeviceBuffer<T>[]> op) where T : unmanaged
    {
        var (cpu, ilgpu) = Pair<T>();
        var onCpu = inputs.Select(v => DeviceData.Upload(cpu, v)).ToArray();
        var onIlgpu = inputs.Select(v => DeviceData.Upload(ilgpu, v)).ToArray();
        try
        {
            op(cpu, onCpu);
            op(ilgpu, onIlgpu);
            for (int k = 0; k < inputs.Length; k++)
            {
                var a = DeviceData.Download(cpu, onCpu[k]);
                var b = DeviceData.Download(ilgpu, onIlgpu[k]);
                int diff = Enumerable.Range(0, a.Length).Count(i => BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i]));
                Assert.True(diff == 0, $"{what}, buffer {k}: {diff} of {a.Length} elements differ (max |error| {Numerics.MaxAbsError(a, b):E2})");
            }

            output.WriteLine($"{typeof(T).Name} {what}: {inputs.Sum(v => v.Length)} elements, identical bits");
        }
        finally
        {
            foreach (var buffer in onCpu.Concat(onIlgpu))
                buffer.Dispose();
        }
    }

    private static T V<T>(double v) where T : unmanaged => DeviceData.From<T>(v);

    [Theory]
    [MemberData(nameof(Types))]
    public void Optimizers_MatchTheKernelsBitForBit(string dtype)
    {
        if (dtype == "float32")
            Optimizers<float>();
        else
            Optimizers<double>();
    }

    private void Optimizers<T>() where T : unmanaged
    {
        var rng = new Random(31);
        // 1, odd, and large enough to split across cores.
        foreach (int n in new[] { 1, 37, 600_001 })
        {
            var p = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
            var g = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
            var m = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n, 0.1));
            var v = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n, 0.1).Select(Math.Abs).ToArray());
            foreach (bool nesterov in new[] { false, true })
            {
                SameBits<T>($"SGD n={n} nesterov={nesterov}", [p, g, m], (ops, b) =>
                {
                    ops.SgdUpdate(b[0].All, b[1].All, b[2].All, V<T>(0.1), V<T>(0.9), V<T>(0.1), V<T>(0.01), nesterov, true);
                    ops.SgdUpdate(b[0].All, b[1].All, b[2].All, V<T>(0.1), V<T>(0.9), V<T>(0.1), V<T>(0.01), nesterov, false);
                });
            }

            SameBits<T>($"SGD without momentum n={n}", [p, g], (ops, b) =>
                ops.SgdUpdate(b[0].All, b[1].All, null, V<T>(0.05), V<T>(0), V<T>(0), V<T>(0), false, false));
            SameBits<T>($"Adam n={n}", [p, g, m, v], (ops, b) =>
                ops.AdamUpdate(b[0].All, b[1].All, b[2].All, b[3].All, V<T>(0.01 / 0.19), V<T>(0.1), V<T>(0.999), V<T>(0.001),
                    V<T>(1e-8), V<T>(0.01), V<T>(0.999), V<T>(Math.Sqrt(1 - 0.999 * 0.999))));
            SameBits<T>($"scale n={n}", [g], (ops, b) => ops.Scale(V<T>(0.37), b[0].All));
            foreach (int parts in new[] { 1, 33, 64 })
            {
                SameBits<T>($"sum of squares n={n} P={parts}", [g, new double[parts]], (ops, b) => ops.SumSquares(b[0].All, b[1].All));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Losses_MatchTheKernelsBitForBit(string dtype)
    {
        if (dtype == "float32")
            Losses<float>();
        else
            Losses<double>();
    }

    private void Losses<T>() where T : unmanaged
    {
        var rng = new Random(32);
        // The last shapes are large enough to split across cores.
        foreach (var (rows, cols) in new[] { (1, 1), (7, 13), (1031, 1021) })
        {
            var p = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * cols, 2));
            var y = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * cols, 2));
            var mask = Enumerable.Range(0, rows).Select(r => r % 3 == 1 ? 0.0 : 1.0).ToArray();
            T scale = V<T>(1.0 / (rows * cols));
            SameBits<T>($"MSE [{rows}, {cols}] masked", [p, y, mask, new double[rows * cols], new double[rows]], (ops, b) =>
                ops.MseLoss(rows, cols, b[0].All, b[1].All, b[2].All, scale, b[3].All, b[4].All));
            SameBits<T>($"MSE [{rows}, {cols}]", [p, y, new double[rows * cols], new double[rows]], (ops, b) =>
                ops.MseLoss(rows, cols, b[0].All, b[1].All, null, scale, b[2].All, b[3].All));
        }

        foreach (var (rows, classes) in new[] { (1, 1), (9, 17), (1003, 101) })
        {
            var logits = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * classes, 8));
            // A target outside [0, C) counts as masked, as on the devices.
            var targets = Enumerable.Range(0, rows).Select(r => r == 4 ? classes : (double)rng.Next(classes)).ToArray();
            var mask = Enumerable.Range(0, rows).Select(r => r % 5 == 2 ? 0.0 : 1.0).ToArray();
            T scale = V<T>(1.0 / rows);
            SameBits<T>($"cross-entropy [{rows}, {classes}] masked", [logits, targets, mask, new double[rows * classes], new double[rows]], (ops, b) =>
                ops.CrossEntropyLoss(rows, classes, b[0].All, b[1].All, b[2].All, scale, b[3].All, b[4].All));
            SameBits<T>($"cross-entropy [{rows}, {classes}]", [logits, targets, new double[rows * classes], new double[rows]], (ops, b) =>
                ops.CrossEntropyLoss(rows, classes, b[0].All, b[1].All, null, scale, b[2].All, b[3].All));
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EmbeddingAndGather_MatchTheKernelsBitForBit(string dtype)
    {
        if (dtype == "float32")
            Embedding<float>();
        else
            Embedding<double>();
    }

    private void Embedding<T>() where T : unmanaged
    {
        var rng = new Random(33);
        foreach (var (vocab, dim, n) in new[] { (1, 1, 1), (37, 19, 101) })
        {
            var weight = DeviceData.AsSeen<T>(Numerics.Uniform(rng, vocab * dim));
            // Repeated rows, and one index outside the table (gathers zeros, scatters nothing).
            var indices = Enumerable.Range(0, n).Select(i => i == n - 1 && n > 1 ? vocab + 2.0 : rng.Next(vocab)).ToArray();
            var dOut = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n * dim));
            SameBits<T>($"embedding gather V={vocab} E={dim} N={n}", [weight, indices, new double[n * dim]], (ops, b) =>
                ops.EmbeddingGather(vocab, dim, b[0].All, b[1].All, b[2].All));
            SameBits<T>($"embedding scatter-add V={vocab} E={dim} N={n}", [indices, dOut, weight], (ops, b) =>
                ops.EmbeddingScatterAdd(vocab, dim, b[0].All, b[1].All, b[2].All));
            int[] rows = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
            SameBits<T>($"gather rows cols={dim} rows={n}", [weight, new double[n * dim]], (ops, b) =>
                ops.GatherRows(dim, rows, b[0].All, b[1].All));
        }
    }

    [Fact]
    public void BadShapes_ThrowClearErrors()
    {
        var ops = TestDevices.Get(ComputeDevice.CpuName).Ops<float>();
        using var a = ops.Allocate(6);
        using var b = ops.Allocate(5);
        using var rowsOf2 = ops.Allocate(2);
        var sgd = Assert.Throws<LstmException>(() => ops.SgdUpdate(a.All, b.All, null, 0.1f, 0, 0, 0, false, false));
        Assert.Contains("gradient of 5", sgd.Message);
        var mse = Assert.Throws<LstmException>(() => ops.MseLoss(2, 3, a.All, b.All, null, 1f, a.All, rowsOf2.All));
        Assert.Contains("target of 5", mse.Message);
        var ce = Assert.Throws<LstmException>(() => ops.CrossEntropyLoss(2, 0, b.All.Slice(0, 0), rowsOf2.All, null, 1f, b.All.Slice(0, 0), rowsOf2.All));
        Assert.Contains("0 classes", ce.Message);
        var parts = Assert.Throws<LstmException>(() => ops.SumSquares(a.All, a.All.Slice(0, 0)));
        Assert.Contains("partials", parts.Message);
    }
}
