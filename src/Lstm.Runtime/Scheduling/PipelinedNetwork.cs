using Lstm.Runtime.Devices;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Scheduling;

/// <summary>
/// The <see cref="SequenceNetwork{T}"/> of a <see cref="ModelConfig"/> with its recurrent layers
/// placed on several devices, one per layer, and run as a <see cref="LayerPipeline{T}"/>: the
/// embedding (language model) on the first layer's device, the <see cref="Linear{T}"/> head on the
/// last one's. Same parameters, names, initial values and results (to rounding) as the one-device
/// network of the same seed, so its state dicts and checkpoints are interchangeable with it.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input features, O outputs, D directions, H_out = P or H.
/// <see cref="Device"/> is the last layer's device: the model's input x arrives there (a trainer
/// puts it beside the loss), is copied to the first device through the host (B·T·I values), and
/// y is returned there.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class PipelinedNetwork<T> : ISequenceModel<T> where T : unmanaged
{
    private PipelineResult<T>? _lastForward;
    private Tensor<T>? _lastTokens;
    private Tensor<T>? _lastHead;

    /// <summary>Creates the network with the one-device network's initial values (the same consecutive seeds: embedding, recurrent layers, head).</summary>
    /// <param name="config">The architecture (validated here).</param>
    /// <param name="placement">One device per recurrent layer (distinct objects).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid or the placement does not name one device per layer.</exception>
    public PipelinedNetwork(ModelConfig config, IReadOnlyList<ComputeDevice> placement, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(placement);
        config.Validate();
        LayerPipeline<T>.CheckPlacement(config, placement);
        Config = config;
        int next = seed;
        try
        {
            if (config.Kind == ModelKind.LanguageModel)
                Embedding = new Embedding<T>(placement[0], config.VocabSize, config.EmbeddingDim, next++);
            Pipeline = new LayerPipeline<T>(config, placement, next++);
            Fc = new Linear<T>(placement[^1], config.HeadInputSize, config.OutputSize, next);
        }
        catch
        {
            Embedding?.Dispose();
            Pipeline?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>The token table [V, E] on the first device (language model), else null.</summary>
    public Embedding<T>? Embedding { get; }

    /// <summary>The recurrent layers, one per device.</summary>
    public LayerPipeline<T> Pipeline { get; }

    /// <summary>The head [D·H_out] → [O], on the last device.</summary>
    public Linear<T> Fc { get; }

    /// <summary>The last layer's device: where x is expected and y returned.</summary>
    public ComputeDevice Device => Fc.Device;

    /// <inheritdoc/>
    public SequenceInput Input => Config.Kind == ModelKind.LanguageModel ? SequenceInput.Tokens : SequenceInput.Values;

    /// <inheritdoc/>
    public SequenceOutput Output => Config.Kind == ModelKind.SequenceToOne ? SequenceOutput.LastStep : SequenceOutput.EveryStep;

    /// <inheritdoc/>
    public int OutputSize => Config.OutputSize;

    /// <inheritdoc/>
    public ulong DropoutSeed
    {
        get => Pipeline.DropoutSeed;
        set => Pipeline.DropoutSeed = value;
    }

    /// <summary>Every parameter under the one-device network's state-dict name, in its order.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters()
    {
        var embedding = Embedding is null ? [] : Embedding.Parameters().Select(p => ("embedding." + p.Name, p));
        return embedding
            .Concat(Pipeline.NamedParameters().Select(p => (Config.RecurrentPrefix + p.Name, p.Parameter)))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));
    }

    /// <summary>y from x, as <see cref="SequenceNetwork{T}.Forward"/>.</summary>
    /// <param name="x">[B, T, I] values, or [B, T] token ids for a language model, on any device (copied to the first one).</param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    /// <returns>[B, O] or [B·T, O] on <see cref="Device"/>; the caller disposes it.</returns>
    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ReleaseForward();
        var first = Pipeline.Placement[0];
        Tensor<T>? moved = ReferenceEquals(x.Device, first) ? null : Tensor<T>.FromArray(first, x.ToArray(), [.. x.Shape]);
        var input = moved ?? x;
        Tensor<T>? embedded = null;
        PipelineResult<T>? result = null;
        Tensor<T>? head = null;
        try
        {
            if (Embedding is not null)
            {
                if (input.Shape.Count != 2)
                    throw new LstmException($"language model: tokens have shape {input.ShapeString}, expected [B, T]");
                embedded = Embedding.Forward(input);
            }

            result = Pipeline.Forward(embedded ?? input, training);
            var (headInput, rows) = HeadInput(result, ref head);
            var y = Fc.Forward(headInput, rows);
            if (training)
            {
                _lastForward = result;
                _lastHead = head;
                if (Embedding is not null)
                {
                    _lastTokens = moved ?? Tensor<T>.FromArray(first, input.ToArray(), [.. input.Shape]);
                    moved = null;
                }
            }
            else
            {
                result.Dispose();
                head?.Dispose();
            }

            return y;
        }
        catch
        {
            result?.Dispose();
            head?.Dispose();
            _lastForward = null;
            _lastHead = null;
            throw;
        }
        finally
        {
            embedded?.Dispose();
            moved?.Dispose();
        }
    }

    /// <summary>Back-propagates d loss / d y through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">[B, O] or [B·T, O] on <see cref="Device"/>.</param>
    public void Backward(Tensor<T> dy)
    {
        ArgumentNullException.ThrowIfNull(dy);
        var forward = _lastForward ?? throw new InvalidOperationException("Backward needs a Forward with training: true before it");
        int rows = Output == SequenceOutput.LastStep ? forward.Batch : forward.Batch * forward.Steps;
        if (!dy.HasShape(rows, OutputSize))
            throw new LstmException($"{ModelConfig.KindName(Config.Kind)} model: dy has shape {dy.ShapeString}, expected [{rows}, {OutputSize}]");
        var head = _lastHead;
        var tokens = _lastTokens;
        _lastForward = null;
        _lastHead = null;
        _lastTokens = null;
        try
        {
            var input = head?.Data ?? HeadInput(forward, ref head).Input;
            using var dHead = Fc.Backward(input, dy, rows);
            var ops = Device.Ops<T>();
            int d = Config.Directions;
            int hOut = Config.HiddenOutputSize;
            Tensor<T> dx;
            if (Output == SequenceOutput.LastStep)
            {
                using var dhn = Tensor<T>.Zeros(Device, d, forward.Batch, hOut);
                if (d == 1)
                    ops.Copy(dHead.Data, dhn.Data);
                else
                    ops.SwapAxes01(forward.Batch, d, hOut, dHead.Data, dhn.Data);
                dx = Pipeline.Backward(forward, null, dhn);
            }
            else
            {
                using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Config.HeadInputSize);
                ops.Copy(dHead.Data, dOutput.Data);
                dx = Pipeline.Backward(forward, dOutput, null);
            }

            using (dx)
            {
                if (Embedding is not null)
                    Embedding.Backward(tokens!, dx.Data);
            }
        }
        finally
        {
            forward.Dispose();
            head?.Dispose();
            tokens?.Dispose();
        }
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
            p.ZeroGrad();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ReleaseForward();
        Embedding?.Dispose();
        Pipeline.Dispose();
        Fc.Dispose();
    }

    private void ReleaseForward()
    {
        _lastForward?.Dispose();
        _lastForward = null;
        _lastHead?.Dispose();
        _lastHead = null;
        _lastTokens?.Dispose();
        _lastTokens = null;
    }

    /// <summary>What the head reads [rows, D·H_out]: every step's output, or the top layer's h_n with the directions side by side.</summary>
    private (Backends.BufferSlice<T> Input, int Rows) HeadInput(PipelineResult<T> result, ref Tensor<T>? owned)
    {
        if (Output == SequenceOutput.EveryStep)
            return (result.Output.Data, result.Batch * result.Steps);
        int d = Config.Directions;
        if (d == 1)
            return (result.HN.Data, result.Batch);
        int hOut = Config.HiddenOutputSize;
        owned ??= Tensor<T>.Zeros(Device, result.Batch, d * hOut);

        // h_n[top] is [D, B, H_out]; the head reads [B, D, H_out] = [B, D·H_out].
        Device.Ops<T>().SwapAxes01(d, result.Batch, hOut, result.HN.Data, owned.Data);
        return (owned.Data, result.Batch);
    }
}
