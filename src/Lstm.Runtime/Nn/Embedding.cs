using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Nn;

/// <summary>
/// <c>torch.nn.Embedding</c>: a table <c>weight</c> [V, E] initialized N(0, 1) as PyTorch does;
/// the forward gathers one row per index, the backward adds the gradient into those rows.
/// </summary>
/// <remarks>Dimension letters: V rows (vocabulary), E embedding size, N indices.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Embedding<T> : IDisposable where T : unmanaged
{
    /// <summary>Creates the table.</summary>
    /// <param name="device">Where it lives.</param>
    /// <param name="numEmbeddings">V.</param>
    /// <param name="embeddingDim">E.</param>
    /// <param name="seed">Seed of the initialization.</param>
    public Embedding(ComputeDevice device, int numEmbeddings, int embeddingDim, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (numEmbeddings <= 0 || embeddingDim <= 0)
            throw new LstmException($"Embedding sizes must be positive: num_embeddings={numEmbeddings}, embedding_dim={embeddingDim}");
        Device = device;
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        var rng = new Random(seed);
        var w = new T[(long)numEmbeddings * embeddingDim];
        for (int i = 0; i < w.Length; i++)
        {
            // Box–Muller: a standard normal from two uniforms.
            double u1 = 1.0 - rng.NextDouble();
            double u2 = rng.NextDouble();
            w[i] = Num<T>.From(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        Weight = new Parameter<T>("weight", Tensor<T>.FromArray(device, w, numEmbeddings, embeddingDim));
    }

    /// <summary>The device.</summary>
    public ComputeDevice Device { get; }

    /// <summary>V.</summary>
    public int NumEmbeddings { get; }

    /// <summary>E.</summary>
    public int EmbeddingDim { get; }

    /// <summary>weight: [V, E].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>The parameters: weight.</summary>
    public IEnumerable<Parameter<T>> Parameters()
    {
        yield return Weight;
    }

    /// <summary>The rows of the indices: [..., E] for indices of any shape.</summary>
    /// <param name="indices">Row indices in [0, V) as exact integers of T.</param>
    /// <exception cref="LstmException">An index is not an integer in [0, V).</exception>
    public Tensor<T> Forward(Tensor<T> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        CheckIndices(indices);
        var output = Tensor<T>.Zeros(Device, [.. indices.Shape, EmbeddingDim]);
        Device.Ops<T>().EmbeddingGather(NumEmbeddings, EmbeddingDim, Weight.Value.Data, indices.Data, output.Data);
        return output;
    }

    /// <summary>Adds d loss / d output to the gradient rows of the indices.</summary>
    /// <param name="indices">The forward's indices [N] (any shape of N elements).</param>
    /// <param name="dOutput">[N, E] (any slice of N·E elements).</param>
    public void Backward(Tensor<T> indices, Backends.BufferSlice<T> dOutput)
    {
        ArgumentNullException.ThrowIfNull(indices);
        Device.Ops<T>().EmbeddingScatterAdd(NumEmbeddings, EmbeddingDim, indices.Data, dOutput, Weight.Grad.Data);
    }

    private void CheckIndices(Tensor<T> indices)
    {
        var values = indices.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            double v = Num<T>.ToDouble(values[i]);
            if (!(v >= 0 && v < NumEmbeddings) || v != Math.Floor(v))
                throw new LstmException($"embedding index {v.ToString(CultureInfo.InvariantCulture)} at position {i} is not a row of a table of {NumEmbeddings}");
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Weight.Dispose();
}
