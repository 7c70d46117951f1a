using Lstm.Tests.Shared;


namespace Lstm.Kernels.Tests;

public class EmbeddingKernelTests
{
    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(Devices))]
    public void GatherAndScatterAdd_MatchHostFormula_Float32(string device) => Check<float>(device, 1e-6);

    [Theory]
    [MemberData(nameof(Devices))]
    public void GatherAndScatterAdd_MatchHostFormula_Float64(string device) => Check<double>(device, 1e-14);

    private static void Check<T>(string device, double tolerance) where T : unmanaged
    {
        var ops = TestDevices.Get(device).Ops<T>();
        var rng = new Random(21);
        foreach (var (vocab, dim, n) in new[] { (1, 1, 1), (5, 3, 7), (33, 7, 61), (3, 40, 200) })
        {
            var weight = DeviceData.AsSeen<T>(Numerics.Uniform(rng, vocab * dim));
            var indices = Enumerable.Range(0, n).Select(_ => (double)rng.Next(vocab)).ToArray();
            var dOut = DeviceData.AsSeen<T>(Numerics.Uniform(rng, n * dim));
            var grad0 = DeviceData.AsSeen<T>(Numerics.Uniform(rng, vocab * dim));
            using var dw = DeviceData.Upload(ops, weight);
            using var di = DeviceData.Upload(ops, indices);
            using var dout = ops.Allocate(n * dim);
            ops.EmbeddingGather(vocab, dim, dw.All, di.All, dout.All);
            var gathered = DeviceData.Download(ops, dout);
            for (int r = 0; r < n; r++)
            {
                for (int j = 0; j < dim; j++)
                    Assert.Equal(weight[(int)indices[r] * dim + j], gathered[r * dim + j]);
            }

            using var dd = DeviceData.Upload(ops, dOut);
            using var dg = DeviceData.Upload(ops, grad0);
            ops.EmbeddingScatterAdd(vocab, dim, di.All, dd.All, dg.All);
            var expected = (double[])grad0.Clone();
            for (int r = 0; r < n; r++)
            {
                for (int j = 0; j < dim; j++)
                    expected[(int)indices[r] * dim + j] += dOut[r * dim + j];
            }

            double err = Numerics.MaxAbsError(DeviceData.Download(ops, dg), expected);
            Assert.True(err < tolerance * Math.Max(1, n / vocab), $"V={vocab} E={dim} N={n}: error {err:e2}");
        }
    }
}
