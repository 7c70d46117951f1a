using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Devices opened at a reduced GEMM precision (<see cref="ComputeDevice.Precision"/>): their
/// float32 products round the operands as tensor cores do (TF32, 3xTF32, BF16) on every device,
/// and whole networks stay within each precision's error of PyTorch's float32 results on the
/// golden cases. Each device and precision is opened once (<see cref="TestDevices"/>): its
/// kernels compile once for every test here.
/// </summary>
public sealed class PrecisionTests(ITestOutputHelper output)
{
    public static readonly GemmPrecision[] Reduced = [GemmPrecision.Tf32, GemmPrecision.ThreeTf32, GemmPrecision.Bf16];

    public static IEnumerable<object[]> DevicesAndPrecisions() =>
        from device in TestDevices.Names()
        from precision in Reduced
        select new object[] { device[0], precision };

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static float[] Gemm(ComputeDevice device, GemmShape s, float alpha, float[] a, float[] b, float beta, float[] c) =>
        DeviceGemm.Run(device.Ops<float>(), s, alpha, a, b, beta, c);

    /// <summary>
    /// Every product equals the rounded host reference (<see cref="PrecisionReference.Gemm"/>) up
    /// to the float32 summation order, relative to Σ|a·b| (1e-5 at K ≤ 65; bit for bit where the
    /// device runs <see cref="PrecisionGemmKernels.RowDot"/> on ILGPU's CPU accelerator), and
    /// differs from the float32 product: the precision is applied.
    /// </summary>
    [Theory]
    [MemberData(nameof(DevicesAndPrecisions))]
    public void Gemm_RoundsAsTheReference_OnEveryDevice(string name, GemmPrecision precision)
    {
        var device = TestDevices.Get(name, precision);
        var exact = TestDevices.Get(name);
        Assert.Equal(precision, device.Precision);
        var rng = new Random(3 + (int)precision);
        bool differs = false;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 13, 5), (33, 20, 65), (2, 40, 48) })
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    var s = GemmShape.Dense(m, n, k, ta, tb);
                    float[] a = Random(rng, m * k), b = Random(rng, k * n), c = Random(rng, m * n);
                    float beta = tb ? 0.5f : 0f;
                    var got = Gemm(device, s, 0.75f, a, b, beta, c);
                    var twin = (float[])c.Clone();
                    PrecisionReference.Gemm(precision, s, 0.75f, a, b, beta, twin);
                    double scale = 0, worst = 0;
                    for (int i = 0; i < m; i++)
                    {
                        for (int j = 0; j < n; j++)
                        {
                            double sum = 0;
                            for (int q = 0; q < k; q++)
                                sum += Math.Abs((ta ? a[q * m + i] : a[i * k + q]) * (tb ? b[j * k + q] : b[q * n + j]));
                            scale = Math.Max(scale, 0.75 * sum + Math.Abs(beta * c[i * n + j]));
                            worst = Math.Max(worst, Math.Abs(got[i * n + j] - twin[i * n + j]));
                        }
                    }

                    if (name == "ilgpu-cpu")
                        Assert.True(worst == 0, $"{name} {precision} {m}x{n}x{k} {ta}/{tb}: {worst:E2} from the reference, expected its bits");
                    Assert.True(worst <= 1e-5 * scale, $"{name} {precision} {m}x{n}x{k} {ta}/{tb}: {worst:E2} from the reference (scale {scale:E2})");
                    differs |= !got.SequenceEqual(Gemm(exact, s, 0.75f, a, b, beta, c));
                }
            }
        }

        Assert.True(differs, $"{name} {precision}: every product equals the float32 one");
    }

    [Theory]
    [InlineData("cpu", GemmAlgorithm.Packed)]
    [InlineData("ilgpu-cpu", GemmAlgorithm.Rounded)]
    public void ReducedPrecision_RunsTheRoundingKernel_WhereThereAreNoTensorCores(string name, GemmAlgorithm expected)
    {
        var device = TestDevices.Get(name, GemmPrecision.Bf16);
        Assert.Equal(expected, device.GemmKernelFor(GemmShape.Dense(64, 64, 64, false, true)));
        foreach (var other in TestDevices.OfKind(DeviceKind.OpenCL))
        {
            var opencl = TestDevices.Get(other.Name, GemmPrecision.Tf32);
            Assert.Equal(GemmAlgorithm.Rounded, opencl.GemmKernelFor(GemmShape.Dense(64, 64, 64, false, true)));
        }
    }

    /// <summary>The worst errors of each precision against PyTorch's float32 results, on every float32 golden case (bounds: a few times what was measured).</summary>
    public static readonly (GemmPrecision Precision, double Output, double Gradient)[] Bounds =
    [
        (GemmPrecision.Tf32, 2e-3, 1e-2),      // measured 4.8e-4 and 2.1e-3 on cpu, ilgpu-cpu and opencl:0
        (GemmPrecision.ThreeTf32, 1e-6, 1e-5), // measured 2.6e-7 and 1.8e-6
        (GemmPrecision.Bf16, 2e-2, 4e-2),      // measured 4.2e-3 and 9.5e-3
    ];

    public static IEnumerable<object[]> GoldenDevicesAndPrecisions() =>
        from device in new[] { "cpu", "ilgpu-cpu" }.Concat(TestDevices.OfKind(DeviceKind.OpenCL).Select(d => d.Name))
        from precision in Reduced
        select new object[] { device, precision };

    [Theory]
    [MemberData(nameof(GoldenDevicesAndPrecisions))]
    public void GoldenCases_StayWithinThePrecisionsError(string name, GemmPrecision precision)
    {
        var (_, outputBound, gradientBound) = Bounds.Single(b => b.Precision == precision);
        var device = TestDevices.Get(name, precision);
        double worstOutput = 0, worstGradient = 0;
        foreach (string stem in GoldenParityTests.CoreCases.Concat(GoldenParityTests.OtherCellCases))
        {
            var golden = GoldenCase.Load(stem);
            if (golden.IsFloat64)
                continue;
            var report = golden.Mode == "LSTM" ? GoldenParityTests.Run<float>(device, golden) : GoldenParityTests.RunOther<float>(device, golden);
            output.WriteLine($"{name} {precision} {stem}: output {report.WorstOutput:E2} ({report.WorstOutputName}), gradient {report.WorstGrad:E2} ({report.WorstGradName})");
            worstOutput = Math.Max(worstOutput, report.WorstOutput);
            worstGradient = Math.Max(worstGradient, report.WorstGrad);
        }

        output.WriteLine($"{name} {precision}: worst output abs error {worstOutput:E2}, worst gradient max-norm relative error {worstGradient:E2}");
        Assert.True(worstOutput <= outputBound, $"{name} {precision}: output error {worstOutput:E2} > {outputBound:E0}");
        Assert.True(worstGradient <= gradientBound, $"{name} {precision}: gradient error {worstGradient:E2} > {gradientBound:E0}");
        Assert.True(worstOutput > 1e-6 || precision == GemmPrecision.ThreeTf32, $"{name} {precision}: the outputs are float32-exact, so the precision was not applied");
    }
}
