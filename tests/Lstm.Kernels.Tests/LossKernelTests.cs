namespace Lstm.Kernels.Tests;

public class LossKernelTests
{
    [Fact]
    public void Log_MatchesMathLog_ToAFewUlps()
    {
        var rng = new Random(13);
        double worst = 0;
        var samples = new List<double> { 1, 2, Math.Sqrt(2), 0.5, 1e-300, 3.3e38, 256, 1 + 1e-15 };
        for (int i = 0; i < 20000; i++)
            samples.Add(Math.Exp((rng.NextDouble() * 2 - 1) * 700));
        foreach (double x in samples)
        {
            double expected = Math.Log(x);
            double err = Math.Abs(LossKernels.Log(x) - expected) / Math.Max(1, Math.Abs(expected));
            worst = Math.Max(worst, err);
        }

        Assert.True(worst < 4e-16, $"worst relative error {worst:e2}");
    }
}
