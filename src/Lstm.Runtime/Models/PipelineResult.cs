using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>The result of <see cref="LayerPipeline{T}.Forward"/>: output, the top layer's h_n and (training) every chunk's stored activations.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class PipelineResult<T> : IDisposable, IRecurrentPass<T> where T : unmanaged
{
    internal PipelineResult(int steps, int batch, int chunkSteps, int layers, bool training)
    {
        Steps = steps;
        Batch = batch;
        ChunkSteps = chunkSteps;
        Training = training;
        int chunks = (steps + chunkSteps - 1) / chunkSteps;
        Chunks = [.. Enumerable.Range(0, layers).Select(_ => new RecurrentResult<T>?[training ? chunks : 0])];
        Inputs = [.. Enumerable.Range(0, layers).Select(_ => new Tensor<T>?[training ? chunks : 0])];
    }

    /// <summary>[B, T, D·H_out] on the last device.</summary>
    public Tensor<T> Output { get; internal set; } = null!;

    /// <summary>[D, B, H_out] on the last device: the top layer's h at its last step (per direction).</summary>
    public Tensor<T> HN { get; internal set; } = null!;

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>T_c: steps per chunk (the last chunk may be shorter).</summary>
    public int ChunkSteps { get; }

    /// <summary>True when it keeps what backward needs.</summary>
    public bool Training { get; }

    /// <summary>[layer][chunk]: the chunk's forward result (its stored activations and (h_n, c_n)).</summary>
    internal RecurrentResult<T>?[][] Chunks { get; }

    /// <summary>[layer][chunk]: the chunk's input [T_c, B, I_k], which its stored activations refer to.</summary>
    internal Tensor<T>?[][] Inputs { get; }

    /// <summary>Frees what chunk c of layer k keeps once it has been back-propagated (its (h_n, c_n) were chunk c+1's h0, c0).</summary>
    internal void Release(int k, int c)
    {
        if (c + 1 < Chunks[k].Length)
        {
            Chunks[k][c + 1]?.Dispose();
            Chunks[k][c + 1] = null;
        }

        Inputs[k][c]?.Dispose();
        Inputs[k][c] = null;
        if (c == 0)
        {
            Chunks[k][0]?.Dispose();
            Chunks[k][0] = null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var layer in Chunks)
        {
            for (int c = 0; c < layer.Length; c++)
            {
                layer[c]?.Dispose();
                layer[c] = null;
            }
        }

        foreach (var layer in Inputs)
        {
            for (int c = 0; c < layer.Length; c++)
            {
                layer[c]?.Dispose();
                layer[c] = null;
            }
        }

        Output?.Dispose();
        HN?.Dispose();
    }
}
