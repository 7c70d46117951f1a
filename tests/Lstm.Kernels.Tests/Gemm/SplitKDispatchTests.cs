using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends.Ilgpu;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// When <see cref="GemmDispatch.Plan"/> takes split-K: for a float32 product at a reduced
/// precision whose 64×64 tiles leave the device's multiprocessors idle and whose K is long; at
/// FP32 only on a device configured with <see cref="GemmAlgorithm.SplitK"/> (the default keeps
/// the in-order sums); never for float64 or on a device of one multiprocessor (ILGPU's CPU
/// accelerator as the project opens it).
/// </summary>
public class SplitKDispatchTests
{
    // An LSTM layer's weight gradient dW_ih = dgatesᵀ·x at H = 128, I = 128, 64 × 100 rows: [512, 128] over K = 6400.
    private static readonly GemmShape WeightGradient = GemmShape.Dense(512, 128, 6400, true, false);

    [Fact]
    public void Fp32_StaysInOrder_ByDefault_EvenWhereSplitKWouldFillTheDevice()
    {
        foreach (var configured in new[] { GemmAlgorithm.Blocked, GemmAlgorithm.Blocked64, GemmAlgorithm.Blocked128, GemmAlgorithm.FewRow, GemmAlgorithm.Tiled, GemmAlgorithm.RowDot })
        {
            var plan = GemmDispatch.Plan(configured, true, 132, 1024, WeightGradient, GemmPrecision.Fp32, tensorCores: true);
            Assert.NotEqual(GemmAlgorithm.SplitK, plan.Kernel);
            Assert.Equal(1, plan.Splits);
            Assert.Equal(WeightGradient.K, plan.SliceK);
        }

        Assert.Equal(GemmAlgorithm.Blocked64, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, WeightGradient));
    }

    [Fact]
    public void Fp32_SplitsTheWeightGradient_WhenConfiguredWithSplitK()
    {
        // 8 × 2 tiles of 64 on 132 multiprocessors: ⌊132 / 16⌋ = 8 slices of 800.
        var plan = GemmDispatch.Plan(GemmAlgorithm.SplitK, true, 132, 1024, WeightGradient);
        Assert.Equal(new GemmPlan(GemmAlgorithm.SplitK, 8, 800, GemmAlgorithm.Blocked64), plan);
        Assert.Equal("SplitKx8(Blocked64)", plan.ToString());
        // Groups too small for Block64: the rounded partial at FP32.
        Assert.Equal(GemmAlgorithm.Rounded, GemmDispatch.Plan(GemmAlgorithm.SplitK, true, 132, 128, WeightGradient).Partial);
        // Where it does not split, SplitK runs as Blocked.
        var big = GemmShape.Dense(3200, 4096, 512, false, true);
        Assert.Equal(GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, big), GemmDispatch.Choose(GemmAlgorithm.SplitK, true, 132, 1024, big));
        var few = GemmShape.Dense(8, 512, 128, false, true);
        Assert.Equal(GemmAlgorithm.FewRow, GemmDispatch.Choose(GemmAlgorithm.SplitK, true, 132, 1024, few));
        Assert.Equal(GemmAlgorithm.Tiled, GemmDispatch.Choose(GemmAlgorithm.SplitK, true, 132, 128, big));
    }

    [Theory]
    [InlineData(GemmPrecision.Tf32)]
    [InlineData(GemmPrecision.ThreeTf32)]
    [InlineData(GemmPrecision.Bf16)]
    public void ReducedPrecision_SplitsByDefault_OnTensorCoresOrTheRoundedPartial(GemmPrecision precision)
    {
        var withCores = GemmDispatch.Plan(GemmAlgorithm.Blocked, true, 132, 1024, WeightGradient, precision, tensorCores: true);
        Assert.Equal(new GemmPlan(GemmAlgorithm.SplitK, 8, 800, GemmAlgorithm.TensorCores), withCores);
        var without = GemmDispatch.Plan(GemmAlgorithm.Blocked, true, 132, 1024, WeightGradient, precision, tensorCores: false);
        Assert.Equal(new GemmPlan(GemmAlgorithm.SplitK, 8, 800, GemmAlgorithm.Rounded), without);
        // Enough tiles, or too short a K: the whole-product kernel.
        Assert.Equal(GemmAlgorithm.TensorCores, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(3200, 4096, 512, false, true), precision, true));
        Assert.Equal(GemmAlgorithm.TensorCores, GemmDispatch.Choose(GemmAlgorithm.Blocked, true, 132, 1024, GemmShape.Dense(64, 64, 255, false, true), precision, true));
        Assert.Equal(GemmAlgorithm.Rounded, GemmDispatch.Choose(GemmAlgorithm.RowDot, true, 132, 1024, GemmShape.Dense(64, 64, 255, false, true), precision, false));
        // One multiprocessor (ILGPU's CPU accelerator): never split.
        Assert.Equal(GemmAlgorithm.Rounded, GemmDispatch.Choose(GemmAlgorithm.RowDot, true, 1, 16, WeightGradient, precision, false));
    }

    [Fact]
    public void Float64_NeverSplits()
    {
        foreach (var configured in new[] { GemmAlgorithm.SplitK, GemmAlgorithm.Blocked, GemmAlgorithm.RowDot })
            Assert.NotEqual(GemmAlgorithm.SplitK, GemmDispatch.Choose(configured, false, 132, 1024, WeightGradient, GemmPrecision.Tf32, true));
        Assert.Equal(GemmAlgorithm.Tiled, GemmDispatch.Choose(GemmAlgorithm.SplitK, false, 132, 1024, WeightGradient));
    }

    /// <summary>On any shape and device: tiles × slices within the multiprocessors, each slice at least the minimum K, at most the most slices, slices that cover K.</summary>
    [Fact]
    public void SplitCount_FillsTheDevice_WithinItsLimits_OnAnyShape()
    {
        var rng = new Random(5);
        int split = 0;
        for (int i = 0; i < 20_000; i++)
        {
            int m = 1 + (int)Math.Pow(2, rng.NextDouble() * 12), n = 1 + (int)Math.Pow(2, rng.NextDouble() * 12);
            int k = 1 + (int)Math.Pow(2, rng.NextDouble() * 20);
            int mps = rng.Next(1, 200);
            var shape = GemmShape.Dense(m, n, k, rng.Next(2) == 1, rng.Next(2) == 1);
            var plan = GemmDispatch.Plan(GemmAlgorithm.SplitK, true, mps, 1024, shape);
            long tiles = (long)((m + 63) / 64) * ((n + 63) / 64);
            Assert.Equal(plan.Splits, GemmDispatch.SplitCount(shape, mps));
            if (plan.Kernel != GemmAlgorithm.SplitK)
            {
                Assert.Equal(1, plan.Splits);
                // Not split: two slices would overfill the device, or leave a slice under the minimum.
                Assert.True(2 * tiles > mps || k < 2 * SplitKGemmKernels.MinSliceK, $"{m}x{n}x{k} on {mps}: not split");
                continue;
            }

            split++;
            Assert.InRange(plan.Splits, 2, SplitKGemmKernels.MaxSplits);
            Assert.True(tiles * plan.Splits <= mps, $"{m}x{n}x{k} on {mps}: {plan.Splits} slices of {tiles} tiles");
            Assert.True(plan.SliceK >= SplitKGemmKernels.MinSliceK && plan.SliceK % SplitKGemmKernels.SliceAlign == 0, $"{m}x{n}x{k}: slice {plan.SliceK}");
            Assert.Equal(plan.Splits, SplitKGemmKernels.Slices(k, plan.SliceK));
        }

        Assert.True(split > 1000, $"only {split} shapes split");
    }
}
