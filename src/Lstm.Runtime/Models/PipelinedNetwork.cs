using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// The <see cref="SequenceNetwork{T}"/> of a <see cref="ModelConfig"/> with its recurrent layers
/// placed on several devices, one per layer, and run as a <see cref="LayerPipeline{T}"/>: the
/// embedding (language model) on the first layer's device, the <see cref="Linear{T}"/> head on the
/// last one's. Same parameters, names, initial values and results (to rounding) as the one-device
/// network of the same seed, so its state dicts and checkpoints are interchangeable with it.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input features, O outputs, D directions, H_out = P or H.
/// The embedding → recurrent layers → head glue is <see cref="RecurrentNetwork{T}"/>'s; this class
/// supplies the recurrent part. <see cref="RecurrentNetwork{T}.Device"/> is the last layer's device: the model's input x arrives there (a trainer
/// puts it beside the loss), is copied to the first device through the host (B·T·I values), and
/// y is returned there.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class PipelinedNetwork<T> : RecurrentNetwork<T> where T : unmanaged
{
    /// <summary>Creates the network with the one-device network's initial values (the same consecutive seeds: embedding, recurrent layers, head).</summary>
    /// <param name="config">The architecture (validated here).</param>
    /// <param name="placement">One device per recurrent layer (distinct objects).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid or the placement does not name one device per layer.</exception>
    public PipelinedNetwork(ModelConfig config, IReadOnlyList<ComputeDevice> placement, int seed = 0)
        : base(Checked(config, placement), placement[0], placement[^1], seed, next => new PipelineStack(new LayerPipeline<T>(config, placement, next)))
    {
        Pipeline = ((PipelineStack)Stack).Pipeline;
    }

    /// <summary>The recurrent layers, one per device.</summary>
    public LayerPipeline<T> Pipeline { get; }

    private static ModelConfig Checked(ModelConfig config, IReadOnlyList<ComputeDevice> placement)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        config.Validate();
        LayerPipeline<T>.CheckPlacement(config, placement);
        return config;
    }

    /// <summary>The recurrent part over several devices: x is copied to the first one, and h_n holds the top layer's last state only.</summary>
    /// <param name="pipeline">The layers.</param>
    private sealed class PipelineStack(LayerPipeline<T> pipeline) : IRecurrentStack<T>
    {
        public LayerPipeline<T> Pipeline { get; } = pipeline;

        public ComputeDevice? InputDevice => Pipeline.Placement[0];

        public int StateLayers => 1;

        public ulong DropoutSeed
        {
            get => Pipeline.DropoutSeed;
            set => Pipeline.DropoutSeed = value;
        }

        public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() => Pipeline.NamedParameters();

        public IRecurrentPass<T> Forward(Tensor<T> x, bool training) => Pipeline.Forward(x, training);

        public IDisposable Backward(IRecurrentPass<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, out Tensor<T> dx)
        {
            dx = Pipeline.Backward((PipelineResult<T>)forward, dOutput, dHN);
            return dx;
        }

        public void Dispose() => Pipeline.Dispose();
    }
}
