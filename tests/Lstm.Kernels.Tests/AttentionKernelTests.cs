using Lstm.Runtime;
using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests;

/// <summary>The attention operations on every device against their float64 references, at odd sizes, in float32 and float64.</summary>
public class AttentionKernelTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(Devices))]
    public void TanhAndBackward_MatchReference_Float32(string device) => Tanh<float>(device, 2e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void TanhAndBackward_MatchReference_Float64(string device) => Tanh<double>(device, 1e-14);

    [Theory]
    [MemberData(nameof(Devices))]
    public void MaskedSoftmaxAndBackward_MatchReference_Float32(string device) => Softmax<float>(device, 2e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void MaskedSoftmaxAndBackward_MatchReference_Float64(string device) => Softmax<double>(device, 1e-14);

    [Theory]
    [MemberData(nameof(Devices))]
    public void MaskRows_ClearsExactlyTheMaskedRows(string device)
    {
        var ops = TestDevices.Get(device).Ops<float>();
        var rng = new Random(5);
        const int rows = 13, cols = 7;
        var y = DeviceData.AsSeen<float>(Numerics.Uniform(rng, rows * cols));
        var mask = Enumerable.Range(0, rows).Select(r => r % 3 == 1 ? 0.0 : 1.0).ToArray();
        using var dy = DeviceData.Upload(ops, y);
        using var dm = DeviceData.Upload(ops, mask);
        ops.MaskRows(cols, dm.All, dy.All);
        var got = DeviceData.Download(ops, dy);
        for (int i = 0; i < rows * cols; i++)
            Assert.Equal(mask[i / cols] > 0 ? y[i] : 0, got[i]);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdditiveScoresAndBackward_MatchReference_Float32(string device) => Additive<float>(device, 1e-5);

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdditiveScoresAndBackward_MatchReference_Float64(string device) => Additive<double>(device, 1e-13);

    [Fact]
    public void BadShapes_AreRefusedWithTheirSizes()
    {
        var ops = TestDevices.Get("cpu").Ops<float>();
        using var small = ops.Allocate(5);
        using var big = ops.Allocate(64);
        Assert.Contains("masked softmax", Assert.Throws<LstmException>(() => ops.MaskedSoftmax(3, 4, small.All, big.All, big.All)).Message);
        Assert.Contains("lengths", Assert.Throws<LstmException>(() => ops.MaskedSoftmax(8, 4, big.All, small.All, big.All)).Message);
        Assert.Contains("mask rows", Assert.Throws<LstmException>(() => ops.MaskRows(6, small.All, big.All)).Message);
        Assert.Contains("k [B·S, A]", Assert.Throws<LstmException>(() => ops.AdditiveScores(2, 3, 4, 5, big.All, small.All, big.All, big.All)).Message);
        Assert.Contains("tanh", Assert.Throws<LstmException>(() => ops.Tanh(small.All, big.All)).Message);
    }

    private static void Tanh<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(3);
        foreach (int n in new[] { 1, 7, 301 })
        {
            var x = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n).Select(v => v * 6).ToArray());
            var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n));
            using var dx = DeviceData.Upload(ops, x);
            using var dyy = DeviceData.Upload(ops, dy);
            using var y = ops.Allocate(n);
            ops.Tanh(dx.All, y.All);
            var got = DeviceData.Download(ops, y);
            Assert.True(Numerics.MaxAbsError(got, AttentionReference.Tanh(x)) < tolerance, $"tanh n={n}");
            ops.TanhBackward(y.All, dyy.All, dyy.All);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, dyy), AttentionReference.TanhBackward(got, dy)) < tolerance, $"tanh backward n={n}");
        }
    }

    private static void Softmax<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(9);
        foreach (var (rows, cols) in new[] { (1, 1), (5, 3), (11, 17), (3, 101) })
        {
            var x = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * cols).Select(v => v * 8).ToArray());
            var lengths = Enumerable.Range(0, rows).Select(r => r == 2 ? 0 : rng.Next(1, cols + 1)).ToArray();
            var dy = DeviceData.AsSeen<T>(Numerics.Uniform(rng, rows * cols));
            using var dx = DeviceData.Upload(ops, x);
            using var dl = DeviceData.Upload(ops, lengths.Select(l => (double)l).ToArray());
            using var y = ops.Allocate(rows * cols);
            ops.MaskedSoftmax(rows, cols, dx.All, dl.All, y.All);
            var got = DeviceData.Download(ops, y);
            var expected = AttentionReference.MaskedSoftmax(rows, cols, x, lengths);
            Assert.True(Numerics.MaxAbsError(got, expected) < tolerance, $"softmax [{rows}, {cols}]");
            for (int r = 0; r < rows; r++)
            {
                for (int j = lengths[r]; j < cols; j++)
                    Assert.Equal(0, got[r * cols + j]);
            }

            // In place, as the model calls it.
            ops.MaskedSoftmax(rows, cols, dx.All, dl.All, dx.All);
            Assert.Equal(got, DeviceData.Download(ops, dx));

            using var ddy = DeviceData.Upload(ops, dy);
            ops.SoftmaxBackward(rows, cols, y.All, ddy.All, ddy.All);
            var dxGot = DeviceData.Download(ops, ddy);
            Assert.True(Numerics.MaxAbsError(dxGot, AttentionReference.SoftmaxBackward(rows, cols, got, dy)) < tolerance * 4, $"softmax backward [{rows}, {cols}]");
        }
    }

    private static void Additive<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(15);
        foreach (var (batch, queries, keys, width) in new[] { (1, 1, 1, 1), (3, 5, 7, 4), (2, 1, 9, 13), (4, 3, 2, 33) })
        {
            var q = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * queries * width));
            var k = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * keys * width));
            var v = DeviceData.AsSeen<T>(Numerics.Uniform(rng, width));
            var g = DeviceData.AsSeen<T>(Numerics.Uniform(rng, batch * queries * keys));
            using var dq = DeviceData.Upload(ops, q);
            using var dk = DeviceData.Upload(ops, k);
            using var dv = DeviceData.Upload(ops, v);
            using var dg = DeviceData.Upload(ops, g);
            using var scores = ops.Allocate(batch * queries * keys);
            ops.AdditiveScores(batch, queries, keys, width, dq.All, dk.All, dv.All, scores.All);
            double scale = Math.Max(1, width / 4.0);
            string shape = $"B {batch}, U {queries}, S {keys}, A {width}";
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, scores), AttentionReference.AdditiveScores(batch, queries, keys, width, q, k, v)) < tolerance * scale, shape);

            using var gq = ops.Allocate(batch * queries * width);
            using var gk = ops.Allocate(batch * keys * width);
            using var gv = ops.Allocate(width);
            ops.AdditiveScoresBackward(batch, queries, keys, width, dq.All, dk.All, dv.All, dg.All, gq.All, gk.All, gv.All);
            var (eq, ek, ev) = AttentionReference.AdditiveScoresBackward(batch, queries, keys, width, q, k, v, g);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, gq), eq) < tolerance * Math.Max(1, keys / 4.0), "dq " + shape);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, gk), ek) < tolerance * Math.Max(1, queries / 4.0), "dk " + shape);
            Assert.True(Numerics.MaxAbsError(DeviceData.Download(ops, gv), ev) < tolerance * Math.Max(1, batch * queries * keys / 4.0), "dv " + shape);
        }
    }
}
