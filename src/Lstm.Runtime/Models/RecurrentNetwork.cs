using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// The model of a <see cref="ModelConfig"/> around its recurrent part: [<see cref="Embedding{T}"/>]
/// → the recurrent layers → a <see cref="Linear{T}"/> head, with the head reading the top
/// layer's h_n (sequence-to-one) or every step's output. <see cref="SequenceNetwork{T}"/> runs the
/// recurrent layers as one layer on one device; <see cref="PipelinedNetwork{T}"/> as a
/// <see cref="LayerPipeline{T}"/> over several.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input features, H_out = P or H, L layers, D directions,
/// O outputs, V vocabulary, E embedding size. State-dict names: <c>embedding.weight</c>
/// (language model), the recurrent layers' under <see cref="ModelConfig.RecurrentPrefix"/>
/// (<c>lstm.weight_ih_l0</c>, ...), <c>fc.weight</c> [O, D·H_out], <c>fc.bias</c> [O].
/// Initialization draws from consecutive seeds: the embedding from the seed, the recurrent layers
/// from the next one, the head from the one after.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public abstract class RecurrentNetwork<T> : ISequenceModel<T> where T : unmanaged
{
    private IRecurrentPass<T>? _lastForward;
    private Tensor<T>? _lastTokens;
    private Tensor<T>? _lastHead;

    /// <summary>Creates the embedding (language model) on <paramref name="first"/>, the recurrent part, and the head on <paramref name="last"/>.</summary>
    /// <param name="config">The architecture, already validated.</param>
    /// <param name="first">Where the embedding lives: the first recurrent layer's device.</param>
    /// <param name="last">Where the head lives: the last recurrent layer's device.</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <param name="createStack">Creates the recurrent part from its seed.</param>
    private protected RecurrentNetwork(ModelConfig config, ComputeDevice first, ComputeDevice last, int seed, Func<int, IRecurrentStack<T>> createStack)
    {
        if (config.Kind == ModelKind.SequenceClassifier)
            throw new LstmException("model config: kind sequence-classifier is built by SequenceClassifier (it pools variable-length sequences)");
        if (config.Kind == ModelKind.EncoderDecoder)
            throw new LstmException("model config: kind seq2seq is built by Seq2SeqModel (an encoder, a decoder and attention)");
        Config = config;
        int next = seed;
        try
        {
            if (config.Kind == ModelKind.LanguageModel)
                Embedding = new Embedding<T>(first, config.VocabSize, config.EmbeddingDim, next++);
            Stack = createStack(next++);
            Fc = new Linear<T>(last, config.HeadInputSize, config.OutputSize, next);
        }
        catch
        {
            Embedding?.Dispose();
            Stack?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>The token table [V, E] of a language model, on the first recurrent layer's device; null for the other kinds.</summary>
    public Embedding<T>? Embedding { get; }

    /// <summary>The head: [D·H_out] → [O], on the last recurrent layer's device.</summary>
    public Linear<T> Fc { get; }

    /// <summary>The head's device: where y is returned (and, on one device, where everything lives).</summary>
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
        get => Stack.DropoutSeed;
        set => Stack.DropoutSeed = value;
    }

    /// <summary>The recurrent part between the embedding and the head.</summary>
    private protected IRecurrentStack<T> Stack { get; }

    /// <summary>
    /// Every parameter with its state-dict name, in PyTorch's order: <c>embedding.weight</c>,
    /// the recurrent layers' (<c>lstm.weight_ih_l0</c>, ...), <c>fc.weight</c>, <c>fc.bias</c>.
    /// </summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters()
    {
        var embedding = Embedding is null ? [] : Embedding.Parameters().Select(p => ("embedding." + p.Name, p));
        return embedding
            .Concat(Stack.NamedParameters().Select(p => (Config.RecurrentPrefix + p.Name, p.Parameter)))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));
    }

    /// <summary>y from x; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs and applies dropout.</summary>
    /// <param name="x">
    /// [B, T, I] values, or [B, T] token ids (exact integers of T) for a language model; when the
    /// recurrent layers span several devices, x may be on any device (it is copied to the first one).
    /// </param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    /// <returns>[B, O] (sequence-to-one) or [B·T, O] (row b·T + t) on <see cref="Device"/>; the caller disposes it.</returns>
    /// <exception cref="LstmException">x has the wrong shape, or a token is not in [0, V).</exception>
    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ReleaseForward();
        var target = Stack.InputDevice;
        Tensor<T>? moved = target is null || ReferenceEquals(x.Device, target) ? null : Tensor<T>.FromArray(target, x.ToArray(), [.. x.Shape]);
        var input = moved ?? x;
        IRecurrentPass<T>? result = null;
        Tensor<T>? head = null;
        try
        {
            result = RecurrentForward(input, training);
            var (headInput, rows) = HeadInput(result, ref head);
            var y = Fc.Forward(headInput, rows);
            if (training)
            {
                _lastForward = result;
                _lastHead = head;
                if (Embedding is not null)
                {
                    _lastTokens = moved ?? CopyTokens(Embedding.Device, input);
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
            moved?.Dispose();
        }
    }

    /// <summary>Back-propagates d loss / d y through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">Shaped like y: [B, O] or [B·T, O], on <see cref="Device"/>.</param>
    /// <exception cref="LstmException">dy has the wrong shape.</exception>
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
            Tensor<T> dx;
            using var grads = Output == SequenceOutput.LastStep ? BackwardFromLastState(forward, dHead, out dx) : BackwardFromEveryStep(forward, dHead, out dx);
            if (Embedding is not null)
                Embedding.Backward(tokens!, dx.Data);
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
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the layers and the kept forward pass.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        ReleaseForward();
        Embedding?.Dispose();
        Stack.Dispose();
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

    /// <summary>The embedding (language model) and the recurrent layers over x, which is on the first device.</summary>
    /// <exception cref="LstmException">A language model's tokens are not [B, T].</exception>
    private IRecurrentPass<T> RecurrentForward(Tensor<T> x, bool training)
    {
        if (Embedding is null)
            return Stack.Forward(x, training);
        if (x.Shape.Count != 2)
            throw new LstmException($"language model: tokens have shape {x.ShapeString}, expected [B, T]");
        using var embedded = Embedding.Forward(x);
        return Stack.Forward(embedded, training);
    }

    /// <summary>A copy of the tokens [B, T] on <paramref name="device"/> (where they are), kept for the embedding's backward pass.</summary>
    private static Tensor<T> CopyTokens(ComputeDevice device, Tensor<T> tokens)
    {
        var copy = Tensor<T>.Zeros(device, tokens.Shape.ToArray());
        device.Ops<T>().Copy(tokens.Data, copy.Data);
        return copy;
    }

    /// <summary>
    /// What the head reads, [rows, D·H_out]: sequence-to-one, cat(h_n[top fwd], h_n[top bwd]) [B, D·H_out]
    /// (a new tensor in <paramref name="owned"/> when D = 2, else a slice of h_n); otherwise every
    /// step's output [B·T, D·H_out].
    /// </summary>
    private (BufferSlice<T> Input, int Rows) HeadInput(IRecurrentPass<T> result, ref Tensor<T>? owned)
    {
        if (Output == SequenceOutput.EveryStep)
            return (result.Output.Data, result.Batch * result.Steps);
        int d = Config.Directions;
        int hOut = Config.HiddenOutputSize;
        long stepSize = (long)result.Batch * hOut;
        var top = result.HN.Data.Slice((Stack.StateLayers - 1) * d * stepSize, d * stepSize);
        if (d == 1)
            return (top, result.Batch);
        owned ??= Tensor<T>.Zeros(Device, result.Batch, d * hOut);

        // h_n[top] is [D, B, H_out]; the head reads [B, D, H_out] = [B, D·H_out].
        Device.Ops<T>().SwapAxes01(d, result.Batch, hOut, top, owned.Data);
        return (owned.Data, result.Batch);
    }

    /// <summary>Sequence-to-one: the head's input gradient [B, D·H_out] enters h_n of the top layer's directions.</summary>
    private IDisposable BackwardFromLastState(IRecurrentPass<T> forward, Tensor<T> dHead, out Tensor<T> dx)
    {
        int d = Config.Directions;
        int hOut = Config.HiddenOutputSize;
        long stepSize = (long)forward.Batch * hOut;
        using var dhn = Tensor<T>.Zeros(Device, Stack.StateLayers * d, forward.Batch, hOut);
        var top = dhn.Data.Slice((Stack.StateLayers - 1) * d * stepSize, d * stepSize);
        if (d == 1)
            Device.Ops<T>().Copy(dHead.Data, top);
        else
            Device.Ops<T>().SwapAxes01(forward.Batch, d, hOut, dHead.Data, top);
        return Stack.Backward(forward, dOutput: null, dHN: dhn, out dx);
    }

    /// <summary>Every step: the head's input gradient [B·T, D·H_out] is d output [B, T, D·H_out].</summary>
    private IDisposable BackwardFromEveryStep(IRecurrentPass<T> forward, Tensor<T> dHead, out Tensor<T> dx)
    {
        using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Config.HeadInputSize);
        Device.Ops<T>().Copy(dHead.Data, dOutput.Data);
        return Stack.Backward(forward, dOutput, dHN: null, out dx);
    }
}
