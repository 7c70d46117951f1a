using Lstm.Kernels;
using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Split-K through the ILGPU backend: a CPU accelerator shaped like a GPU (4 multiprocessors,
/// groups of 256) plans a product with few output tiles and a long K as slices, runs the partial
/// and reduction kernels through the device's GEMM, and gives the precision's rounded product
/// within float32 summation error, the same bits on every call.
/// </summary>
public sealed class SplitKBackendTests
{
    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    [Theory]
    [InlineData(GemmPrecision.Tf32, GemmAlgorithm.Blocked)]
    [InlineData(GemmPrecision.Bf16, GemmAlgorithm.Blocked)]
    [InlineData(GemmPrecision.Fp32, GemmAlgorithm.SplitK)]
    public void FewTilesLongK_RunsSplit_AndMatchesTheReference(GemmPrecision precision, GemmAlgorithm algorithm)
    {
        using var device = ComputeDevice.OpenIlgpuCpu(32, 8, 4, algorithm, precision);
        var ops = (IlgpuOps<float, F32Ops>)device.Ops<float>();
        var rng = new Random(11 + (int)precision);
        foreach (var (m, n, k, ta, tb) in new[] { (37, 29, 301, true, false), (20, 33, 400, false, true), (5, 70, 263, false, false) })
        {
            var s = GemmShape.Dense(m, n, k, ta, tb);
            var plan = ops.PlanFor(s);
            Assert.True(plan.Kernel == GemmAlgorithm.SplitK && plan.Splits > 1, $"{precision} {m}x{n}x{k}: planned {plan}");
            float[] a = Random(rng, m * k), b = Random(rng, k * n), c = Random(rng, m * n);
            var got = DeviceGemm.Run(ops, s, 0.5f, a, b, 0.25f, c);
            Assert.Equal(got, DeviceGemm.Run(ops, s, 0.5f, a, b, 0.25f, c));
            var twin = (float[])c.Clone();
            PrecisionReference.Gemm(precision, s, 0.5f, a, b, 0.25f, twin);
            double worst = 0;
            for (int i = 0; i < got.Length; i++)
                worst = Math.Max(worst, Math.Abs(got[i] - twin[i]));
            // Σ|a·b| ≤ K for operands in [-1, 1]: float32 summation in another order stays within K·2^-20.
            Assert.True(worst <= 0.5 * k * Math.Pow(2, -20) + 1e-6, $"{precision} {m}x{n}x{k} {plan}: {worst:E2} from the reference");
        }
    }

    [Fact]
    public void Fp32_ByDefault_KeepsTheSumInOrder()
    {
        using var device = ComputeDevice.OpenIlgpuCpu(32, 8, 4, GemmAlgorithm.Blocked, GemmPrecision.Fp32);
        var ops = (IlgpuOps<float, F32Ops>)device.Ops<float>();
        Assert.Equal(1, ops.PlanFor(GemmShape.Dense(37, 29, 301, true, false)).Splits);
    }
}
