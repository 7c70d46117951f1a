using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>Building the network of a configuration on one device or over several (a placement).</summary>
public partial class SequenceNetwork<T>
{
    /// <summary>
    /// The network of <paramref name="config"/> on the devices of <paramref name="placement"/>:
    /// one device gives a <see cref="SequenceNetwork{T}"/> on it; one device per recurrent layer
    /// (two or more) gives a <see cref="PipelinedNetwork{T}"/> (layer k on <c>placement[k]</c>,
    /// run as a <see cref="LayerPipeline{T}"/>). Both have the same parameters and initial values
    /// for a seed. The placement is a runtime choice: it is not part of the configuration.
    /// </summary>
    /// <param name="config">The architecture.</param>
    /// <param name="placement">One device, or one distinct device object per layer.</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid, or the placement names neither one device nor one per layer.</exception>
    public static ISequenceModel<T> Create(ModelConfig config, IReadOnlyList<ComputeDevice> placement, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        if (placement.Count == 1)
            return new SequenceNetwork<T>(placement[0], config, seed);
        return new PipelinedNetwork<T>(config, placement, seed);
    }
}
