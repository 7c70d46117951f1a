namespace Lstm.Runtime.Data;

/// <summary>
/// The noisy-sine task (<c>lstm train</c>'s default data), generated in-process: predict the next value of a noisy sine wave from the
/// previous <see cref="Steps"/> values. Each sample has its own frequency and phase, so the model
/// must read them from the window rather than memorize one curve.
/// </summary>
/// <param name="Steps">T: the window length.</param>
/// <param name="Noise">Standard deviation of the Gaussian noise added to the inputs.</param>
public sealed record SineTask(int Steps = 20, double Noise = 0.05)
{
    /// <summary>Features per step (the value itself).</summary>
    public const int InputSize = 1;

    /// <summary>Values predicted per sample.</summary>
    public const int OutputSize = 1;

    /// <summary>
    /// Draws a batch: x [B, T, 1] (batch-first) and y [B, 1], both row-major.
    /// </summary>
    /// <param name="rng">The random source (the same seed gives the same batches).</param>
    /// <param name="batch">B.</param>
    public (double[] X, double[] Y) Sample(Random rng, int batch)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var x = new double[batch * Steps];
        var y = new double[batch];
        for (int b = 0; b < batch; b++)
        {
            double freq = 0.1 + 0.2 * rng.NextDouble();
            double phase = 2 * Math.PI * rng.NextDouble();
            for (int t = 0; t < Steps; t++)
                x[b * Steps + t] = Math.Sin(freq * t + phase) + Noise * Gaussian(rng);
            y[b] = Math.Sin(freq * Steps + phase);
        }

        return (x, y);
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
