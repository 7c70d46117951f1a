using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <summary>PyTorch's initialization of a recurrent layer: every parameter U(−1/√H, 1/√H).</summary>
internal static class Initialization
{
    /// <summary>
    /// The parameters of every direction of every layer (index layer·D + direction), named as
    /// PyTorch names them, drawn from one generator in PyTorch's state-dict order.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">Where the parameters live.</param>
    /// <param name="config">The sizes.</param>
    /// <param name="gates">G / H of the cell.</param>
    /// <param name="seed">The generator's seed.</param>
    public static DirectionParameters<T>[] PyTorch<T>(ComputeDevice device, RecurrentConfig config, int gates, int seed)
        where T : unmanaged
    {
        int d = config.Directions;
        int g = gates * config.HiddenSize;
        var parameters = new DirectionParameters<T>[config.NumLayers * d];
        var rng = new Random(seed);
        double bound = 1.0 / Math.Sqrt(config.HiddenSize);
        Parameter<T> Draw(string name, params int[] shape) => Uniform<T>(device, name, rng, bound, shape);
        for (int k = 0; k < config.NumLayers; k++)
        {
            for (int dir = 0; dir < d; dir++)
            {
                string suffix = k.ToString(CultureInfo.InvariantCulture) + (dir == 1 ? "_reverse" : "");
                var wih = Draw($"weight_ih_l{suffix}", g, config.LayerInput(k));
                var whh = Draw($"weight_hh_l{suffix}", g, config.HiddenOutputSize);
                Parameter<T>? bih = null, bhh = null, whr = null;
                if (config.Bias)
                {
                    bih = Draw($"bias_ih_l{suffix}", g);
                    bhh = Draw($"bias_hh_l{suffix}", g);
                }

                if (config.ProjSize > 0)
                    whr = Draw($"weight_hr_l{suffix}", config.ProjSize, config.HiddenSize);
                parameters[k * d + dir] = new DirectionParameters<T> { WeightIh = wih, WeightHh = whh, BiasIh = bih, BiasHh = bhh, WeightHr = whr };
            }
        }

        return parameters;
    }

    private static Parameter<T> Uniform<T>(ComputeDevice device, string name, Random rng, double bound, int[] shape)
        where T : unmanaged
    {
        long n = 1;
        foreach (int s in shape)
            n *= s;
        var values = new T[n];
        for (long i = 0; i < n; i++)
            values[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        return new Parameter<T>(name, Tensor<T>.FromArray(device, values, shape));
    }
}
