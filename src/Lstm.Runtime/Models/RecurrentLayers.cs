using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Models;

/// <summary>The one place that maps a cell kind and its sizes to a recurrent layer.</summary>
public static class RecurrentLayers
{
    /// <summary>
    /// An <see cref="LSTM{T}"/>, <see cref="GRU{T}"/> or <see cref="RNN{T}"/> (tanh or relu) with
    /// PyTorch's initialization drawn from <paramref name="seed"/>.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">Where it lives.</param>
    /// <param name="cell">lstm, gru, rnn-tanh or rnn-relu.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="numLayers">L.</param>
    /// <param name="bias">False drops b_ih and b_hh.</param>
    /// <param name="batchFirst">True: x and output are [B, T, ·]; false: [T, B, ·].</param>
    /// <param name="dropout">p between layers, in training only.</param>
    /// <param name="bidirectional">True adds the reverse direction.</param>
    /// <param name="projSize">P (an LSTM only; 0 for none).</param>
    /// <param name="seed">Seed of the initialization.</param>
    /// <exception cref="LstmException">The cell is unknown, a projection is asked of another cell than an LSTM, or the options break a layer's rules.</exception>
    public static RecurrentLayer<T> Create<T>(
        ComputeDevice device, CellKind cell, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst, double dropout, bool bidirectional, int projSize = 0, int seed = 0)
        where T : unmanaged
    {
        if (ModelConfig.ProjectionError(cell, projSize) is { } projection)
            throw new LstmException(projection);
        return cell switch
        {
            CellKind.Lstm => new LSTM<T>(device, new LSTMOptions(inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize), seed),
            CellKind.Gru => new GRU<T>(device, new GRUOptions(inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional), seed),
            CellKind.RnnTanh => new RNN<T>(device, new RNNOptions(inputSize, hiddenSize, numLayers, RnnNonlinearity.Tanh, bias, batchFirst, dropout, bidirectional), seed),
            CellKind.RnnRelu => new RNN<T>(device, new RNNOptions(inputSize, hiddenSize, numLayers, RnnNonlinearity.Relu, bias, batchFirst, dropout, bidirectional), seed),
            _ => throw new LstmException($"model config: cell={(int)cell} is not a recurrent cell"),
        };
    }

    /// <summary>The recurrent layer of a <see cref="ModelConfig"/>: its cell, sizes, bias, dropout, directions and projection.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">Where it lives.</param>
    /// <param name="config">The architecture.</param>
    /// <param name="batchFirst">The layout of x.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public static RecurrentLayer<T> Create<T>(ComputeDevice device, ModelConfig config, bool batchFirst, int seed) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(config);
        return Create<T>(device, config.Cell, config.InputSize, config.HiddenSize, config.NumLayers, config.Bias, batchFirst, config.Dropout, config.Bidirectional, config.ProjSize, seed);
    }
}
