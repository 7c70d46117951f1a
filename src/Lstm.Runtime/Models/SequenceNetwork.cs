using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// A sequence model built from a <see cref="ModelConfig"/>: [<see cref="Embedding{T}"/>] → the
/// configured batch-first recurrent layer (<see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or
/// <see cref="RNN{T}"/>, with every option) → a <see cref="Linear{T}"/> head. The forward and
/// backward glue around the recurrent layer is <see cref="RecurrentNetwork{T}"/>'s, shared with
/// <see cref="PipelinedNetwork{T}"/>.
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
public partial class SequenceNetwork<T> : RecurrentNetwork<T> where T : unmanaged
{
    /// <summary>Creates the network with PyTorch's initializations drawn from <paramref name="seed"/>.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="config">The architecture (validated here).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The configuration is invalid.</exception>
    public SequenceNetwork(ComputeDevice device, ModelConfig config, int seed = 0)
        : base(Checked(device, config), device, device, seed, next => new LayerStack(RecurrentLayers.Create<T>(device, config, batchFirst: true, next), config.NumLayers))
    {
        Recurrent = ((LayerStack)Stack).Layer;
    }

    /// <summary>The recurrent layer: an <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or <see cref="RNN{T}"/> (batch-first).</summary>
    public RecurrentLayer<T> Recurrent { get; }

    /// <summary>
    /// Loads a saved network (<c>ModelFolder.Locate</c>): a model directory, its
    /// <c>config.json</c> or its safetensors file.
    /// </summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="path">A directory, a <c>config.json</c> or a <c>.safetensors</c> file.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static SequenceNetwork<T> Load(ComputeDevice device, string path)
    {
        ArgumentNullException.ThrowIfNull(device);
        var (configPath, weightsPath) = ModelFolder.Locate(path);
        return Load(device, configPath, weightsPath);
    }

    /// <summary>Loads a network from a configuration file and a weights file (F32 or F64; converted to T).</summary>
    /// <param name="device">Where to put it.</param>
    /// <param name="configPath">The <c>config.json</c>.</param>
    /// <param name="weightsPath">The safetensors file.</param>
    /// <exception cref="LstmException">A file is missing or invalid, or a tensor's name or shape does not match the configuration.</exception>
    public static SequenceNetwork<T> Load(ComputeDevice device, string configPath, string weightsPath)
    {
        ArgumentNullException.ThrowIfNull(device);
        return ModelFolder.LoadModel<T, SequenceNetwork<T>>(configPath, weightsPath, config => new SequenceNetwork<T>(device, config), network => network.NamedParameters());
    }

    private static ModelConfig Checked(ComputeDevice device, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }

    /// <summary>The recurrent part on one device: one batch-first layer, whose h_n holds every layer's last state.</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="layers">L.</param>
    private sealed class LayerStack(RecurrentLayer<T> layer, int layers) : IRecurrentStack<T>
    {
        public RecurrentLayer<T> Layer { get; } = layer;

        public ComputeDevice? InputDevice => null;

        public int StateLayers { get; } = layers;

        public ulong DropoutSeed
        {
            get => Layer.DropoutSeed;
            set => Layer.DropoutSeed = value;
        }

        public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters() => Layer.Parameters().Select(p => (p.Name, p));

        /// <summary>The layer's forward pass over x [B, T, I].</summary>
        public IRecurrentPass<T> Forward(Tensor<T> x, bool training) => Layer.Forward(x, training: training);

        /// <summary>The layer's backward pass; dOutput [B, T, D·H_out] and dHN [L·D, B, H_out] may be null (zeros).</summary>
        public IDisposable Backward(IRecurrentPass<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, out Tensor<T> dx)
        {
            var result = (RecurrentResult<T>)forward;
            RecurrentGradients<T> grads = Layer.Backward(result, dOutput, dHN);
            dx = grads.DX;
            return grads;
        }

        public void Dispose() => Layer.Dispose();
    }
}
