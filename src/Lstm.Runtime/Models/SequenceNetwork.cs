using Lstm.Kernels;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A sequence model built from a <see cref="ModelConfig"/>: [<see cref="Embedding{T}"/>] → the
/// configured batch-first recurrent layer (<see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or
/// <see cref="RNN{T}"/>, with every option) → a <see cref="Linear{T}"/> head.
/// </summary>
/// <remarks>
/// <para>
/// Dimension letters: B batch, T steps, I input features, H hidden size, P projection size,
/// H_out = P or H, L layers, D directions, O outputs, V vocabulary, E embedding size.
/// State-dict names: <c>embedding.weight</c> (language model), <c>lstm.*</c> / <c>gru.*</c> /
/// <c>rnn.*</c> (PyTorch's names under the layer, e.g. <c>lstm.weight_ih_l0_reverse</c>),
/// <c>fc.weight</c> [O, D·H_out], <c>fc.bias</c> [O].
/// </para>
/// <para>
/// The PyTorch module each kind matches (<c>RNN</c> is <c>nn.LSTM</c>, <c>nn.GRU</c> or
/// <c>nn.RNN(..., nonlinearity='tanh'|'relu')</c>, its attribute named <c>lstm</c>, <c>gru</c> or
/// <c>rnn</c>; <c>proj_size</c> for an LSTM only), so the weights load there with
/// <c>load_state_dict</c>:
/// </para>
/// <code>
/// # sequence-to-one: x [B, T, I] → y [B, O]
/// self.rnn = RNN(I, H, L, bias=bias, batch_first=True, dropout=p, bidirectional=bi)
/// self.fc = nn.Linear(D * H_out, O)
/// def forward(self, x):
///     h_n = self.rnn(x)[1]            # LSTM: self.rnn(x)[1][0]; [L·D, B, H_out]
///     top = h_n[-D:]                  # top layer: forward (and reverse) direction
///     return self.fc(torch.cat(list(top), dim=1))     # [B, D·H_out]
///
/// # sequence-to-sequence: x [B, T, I] → y [B·T, O], row b·T + t
/// def forward(self, x):
///     return self.fc(self.rnn(x)[0]).reshape(-1, O)  # output [B, T, D·H_out]
///
/// # language-model: tokens [B, T] → logits [B·T, V]
/// self.embedding = nn.Embedding(V, E)
/// self.rnn = RNN(E, H, L, bias=bias, batch_first=True, dropout=p, bidirectional=bi)
/// self.fc = nn.Linear(D * H_out, V)
/// def forward(self, tokens):
///     return self.fc(self.rnn(self.embedding(tokens))[0]).reshape(-1, V)
/// </code>
/// <para>
/// Initialization is PyTorch's (embedding N(0, 1), recurrent and linear U(-1/√fan, 1/√fan)),
/// drawn from consecutive seeds: the embedding from the seed, the recurrent layer from the
/// next one, the head from the one after.
/// </para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public partial class SequenceNetwork<T> : ISequenceModel<T> where T : unmanaged
{
    private RecurrentResult<T>? _lastForward;
    private Tensor<T>? _lastTokens;
    private Tensor<T>? _lastHead;

    /// <summary>Creates the network with PyTorch's initializations drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="config">The architecture (validated here).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid.</exception>
    public SequenceNetwork(ComputeDevice device, ModelConfig config, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        int next = seed;
        try
        {
            if (config.Kind == ModelKind.LanguageModel)
                Embedding = new Embedding<T>(device, config.VocabSize, config.EmbeddingDim, next++);
            Recurrent = CreateRecurrent(device, config, next++);
            Fc = new Linear<T>(device, config.HeadInputSize, config.OutputSize, next);
        }
        catch
        {
            Embedding?.Dispose();
            Recurrent?.Dispose();
            throw;
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>The token table [V, E] of a language model; null for the other kinds.</summary>
    public Embedding<T>? Embedding { get; }

    /// <summary>The recurrent layer: an <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or <see cref="RNN{T}"/> (batch-first).</summary>
    public RecurrentLayer<T> Recurrent { get; }

    /// <summary>The head: [D·H_out] → [O].</summary>
    public Linear<T> Fc { get; }

    /// <summary>The device.</summary>
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
        get => Recurrent.DropoutSeed;
        set => Recurrent.DropoutSeed = value;
    }

    /// <summary>
    /// Every parameter with its state-dict name, in PyTorch's order: <c>embedding.weight</c>,
    /// the recurrent layer's (<c>lstm.weight_ih_l0</c>, ...), <c>fc.weight</c>, <c>fc.bias</c>.
    /// </summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters()
    {
        var embedding = Embedding is null ? [] : Embedding.Parameters().Select(p => ("embedding." + p.Name, p));
        return embedding
            .Concat(Recurrent.Parameters().Select(p => (Config.RecurrentPrefix + p.Name, p)))
            .Concat(Fc.Parameters().Select(p => ("fc." + p.Name, p)));
    }

    /// <summary>y from x; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs and applies dropout.</summary>
    /// <param name="x">[B, T, I] values, or [B, T] token ids (exact integers of T) for a language model.</param>
    /// <param name="training">True before a <see cref="Backward"/>.</param>
    /// <returns>[B, O] (sequence-to-one) or [B·T, O] (row b·T + t); the caller disposes it.</returns>
    /// <exception cref="LstmException">x has the wrong shape, or a token is not in [0, V).</exception>
    public Tensor<T> Forward(Tensor<T> x, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        ReleaseForward();
        Tensor<T>? embedded = null;
        if (Embedding is not null)
        {
            if (x.Shape.Count != 2)
                throw new LstmException($"language model: tokens have shape {x.ShapeString}, expected [B, T]");
            embedded = Embedding.Forward(x);
        }

        RecurrentResult<T> result;
        try
        {
            result = RunRecurrent(embedded ?? x, training);
        }
        finally
        {
            embedded?.Dispose();
        }

        Tensor<T>? head = null;
        try
        {
            var (input, rows) = HeadInput(result, ref head);
            var y = Fc.Forward(input, rows);
            if (training)
            {
                _lastForward = result;
                _lastHead = head;
                if (Embedding is not null)
                {
                    _lastTokens = Tensor<T>.Zeros(Device, x.Shape.ToArray());
                    Device.Ops<T>().Copy(x.Data, _lastTokens.Data);
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
            result.Dispose();
            head?.Dispose();
            _lastForward = null;
            _lastHead = null;
            throw;
        }
    }

    /// <summary>Back-propagates d loss / d y through the last training <see cref="Forward"/>, adding to every parameter's gradient.</summary>
    /// <param name="dy">Shaped like y: [B, O] or [B·T, O].</param>
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
            using var grads = Output == SequenceOutput.LastStep ? BackwardFromLastState(forward, dHead) : BackwardFromEveryStep(forward, dHead);
            if (Embedding is not null)
                Embedding.Backward(tokens!, grads.DX.Data);
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
        Recurrent.Dispose();
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

    private static RecurrentLayer<T> CreateRecurrent(ComputeDevice device, ModelConfig c, int seed) => c.Cell switch
    {
        CellKind.Lstm => new LSTM<T>(device, new LSTMOptions(c.InputSize, c.HiddenSize, c.NumLayers, c.Bias, BatchFirst: true, c.Bidirectional, c.ProjSize, c.Dropout), seed),
        CellKind.Gru => new GRU<T>(device, new GRUOptions(c.InputSize, c.HiddenSize, c.NumLayers, c.Bias, BatchFirst: true, c.Bidirectional, c.Dropout), seed),
        CellKind.RnnTanh => new RNN<T>(device, new RNNOptions(c.InputSize, c.HiddenSize, c.NumLayers, c.Bias, BatchFirst: true, c.Bidirectional, RnnNonlinearity.Tanh, c.Dropout), seed),
        CellKind.RnnRelu => new RNN<T>(device, new RNNOptions(c.InputSize, c.HiddenSize, c.NumLayers, c.Bias, BatchFirst: true, c.Bidirectional, RnnNonlinearity.Relu, c.Dropout), seed),
        _ => throw new LstmException($"model config: cell={(int)c.Cell} is not a recurrent cell"),
    };

    /// <summary>The recurrent layer's forward pass over x [B, T, I].</summary>
    private RecurrentResult<T> RunRecurrent(Tensor<T> x, bool training) => Recurrent switch
    {
        LSTM<T> lstm => lstm.Forward(x, training: training),
        GRU<T> gru => gru.Forward(x, training: training),
        RNN<T> rnn => rnn.Forward(x, training: training),
        _ => throw new InvalidOperationException($"unknown recurrent layer {Recurrent.GetType().Name}"),
    };

    /// <summary>The recurrent layer's backward pass; dOutput [B, T, D·H_out] and dHN [L·D, B, H_out] may be null (zeros).</summary>
    private RecurrentGradients<T> RunRecurrentBackward(RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN) => Recurrent switch
    {
        LSTM<T> lstm => lstm.Backward((LSTMResult<T>)forward, dOutput, dHN),
        GRU<T> gru => gru.Backward(forward, dOutput, dHN),
        RNN<T> rnn => rnn.Backward(forward, dOutput, dHN),
        _ => throw new InvalidOperationException($"unknown recurrent layer {Recurrent.GetType().Name}"),
    };

    /// <summary>
    /// What the head reads, [rows, D·H_out]: sequence-to-one, cat(h_n[top fwd], h_n[top bwd]) [B, D·H_out]
    /// (a new tensor in <paramref name="owned"/> when D = 2, else a slice of h_n); otherwise every
    /// step's output [B·T, D·H_out].
    /// </summary>
    private (BufferSlice<T> Input, int Rows) HeadInput(RecurrentResult<T> result, ref Tensor<T>? owned)
    {
        if (Output == SequenceOutput.EveryStep)
            return (result.Output.Data, result.Batch * result.Steps);
        int d = Config.Directions;
        int hOut = Config.HiddenOutputSize;
        long stepSize = (long)result.Batch * hOut;
        var top = result.HN.Data.Slice((Config.NumLayers - 1) * d * stepSize, d * stepSize);
        if (d == 1)
            return (top, result.Batch);
        owned ??= Tensor<T>.Zeros(Device, result.Batch, d * hOut);

        // h_n[top] is [D, B, H_out]; the head reads [B, D, H_out] = [B, D·H_out].
        Device.Ops<T>().SwapAxes01(d, result.Batch, hOut, top, owned.Data);
        return (owned.Data, result.Batch);
    }

    /// <summary>Sequence-to-one: the head's input gradient [B, D·H_out] enters h_n of the top layer's directions.</summary>
    private RecurrentGradients<T> BackwardFromLastState(RecurrentResult<T> forward, Tensor<T> dHead)
    {
        int d = Config.Directions;
        int hOut = Config.HiddenOutputSize;
        long stepSize = (long)forward.Batch * hOut;
        using var dhn = Tensor<T>.Zeros(Device, Config.NumLayers * d, forward.Batch, hOut);
        var top = dhn.Data.Slice((Config.NumLayers - 1) * d * stepSize, d * stepSize);
        if (d == 1)
            Device.Ops<T>().Copy(dHead.Data, top);
        else
            Device.Ops<T>().SwapAxes01(forward.Batch, d, hOut, dHead.Data, top);
        return RunRecurrentBackward(forward, dOutput: null, dHN: dhn);
    }

    /// <summary>Every step: the head's input gradient [B·T, D·H_out] is d output [B, T, D·H_out].</summary>
    private RecurrentGradients<T> BackwardFromEveryStep(RecurrentResult<T> forward, Tensor<T> dHead)
    {
        using var dOutput = Tensor<T>.Zeros(Device, forward.Batch, forward.Steps, Config.HeadInputSize);
        Device.Ops<T>().Copy(dHead.Data, dOutput.Data);
        return RunRecurrentBackward(forward, dOutput, dHN: null);
    }
}
