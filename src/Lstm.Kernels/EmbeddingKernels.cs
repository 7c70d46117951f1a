using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// <c>torch.nn.Embedding</c>: the forward gathers rows of the weight by index, the backward
/// scatters the output gradient back into the rows it came from.
/// </summary>
/// <remarks>
/// Dimension letters: N indices (B·T tokens), V rows of the table (vocabulary), E columns
/// (embedding size). Indices are stored as exact integers of T. The backward has one thread per
/// gradient element that adds the matching rows in index order: no atomics, so the result is
/// the same on every launch and device.
/// </remarks>
internal static class EmbeddingKernels
{
    /// <summary>out[n, j] = weight[idx[n], j]; a row whose index is outside [0, V) is zero.</summary>
    /// <param name="index">Element of out, flat.</param>
    /// <param name="weight">[V, E].</param>
    /// <param name="indices">[N].</param>
    /// <param name="output">[N, E] out.</param>
    /// <param name="vocab">V.</param>
    /// <param name="dim">E.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void Gather<T, TOps>(Index1D index, ArrayView<T> weight, ArrayView<T> indices, ArrayView<T> output, int vocab, int dim, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < output.Length; e += stride)
        {
            long n = e / dim;
            long j = e % dim;
            int row = (int)ops.ToDouble(indices[n]);
            output[e] = row >= 0 && row < vocab ? weight[(long)row * dim + j] : ops.Zero;
        }
    }

    /// <summary>weightGrad[v, j] += Σ_{n : idx[n] = v} dOut[n, j], summed in n order.</summary>
    /// <param name="index">Element of weightGrad, flat.</param>
    /// <param name="indices">[N].</param>
    /// <param name="dOutput">[N, E].</param>
    /// <param name="weightGrad">[V, E], accumulated.</param>
    /// <param name="count">N.</param>
    /// <param name="dim">E.</param>
    /// <param name="stride">The number of threads launched.</param>
    public static void ScatterAdd<T, TOps>(Index1D index, ArrayView<T> indices, ArrayView<T> dOutput, ArrayView<T> weightGrad, int count, int dim, int stride)
        where T : unmanaged
        where TOps : struct, INumOps<T>
    {
        var ops = default(TOps);
        for (long e = index; e < weightGrad.Length; e += stride)
        {
            long v = e / dim;
            long j = e % dim;
            T acc = weightGrad[e];
            for (int n = 0; n < count; n++)
            {
                if ((long)ops.ToDouble(indices[n]) == v)
                    acc = ops.Add(acc, dOutput[(long)n * dim + j]);
            }

            weightGrad[e] = acc;
        }
    }
}
