using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>
/// The attention of a <see cref="Seq2SeqModel{T}"/>: scores of every decoder output h_t against
/// every encoder output h̄_s (Luong's general or Bahdanau's additive), a softmax over each source
/// sequence's own steps, the context c_t = Σ_s α_ts h̄_s and the attentional vector
/// h̃_t = tanh(W_c [c_t; h_t]); all queries of a batch at once (teacher forcing) or one per step.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, U queries per row (decoder steps), S source steps, H hidden size,
/// K = D·H encoder output width, A = H the additive score's width. The per-row products
/// ([U, H]·[H, S], [U, S]·[S, K]) are one batched GEMM each over the batch rows; W_c [H, K + H] is used as
/// its two column blocks through the GEMM's leading dimension, so [c; h] is never built.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class Seq2SeqAttention<T> : IDisposable where T : unmanaged
{
    public Seq2SeqAttention(ComputeDevice device, AttentionKind kind, int hidden, int keyWidth, int seed)
    {
        Device = device;
        Kind = kind;
        Hidden = hidden;
        KeyWidth = keyWidth;
        var rng = new Random(seed);
        try
        {
            if (kind == AttentionKind.Luong)
            {
                Weight = Uniform(rng, "weight", hidden, keyWidth);
            }
            else
            {
                Query = Uniform(rng, "query.weight", hidden, hidden);
                Key = Uniform(rng, "key.weight", hidden, keyWidth);
                V = Uniform(rng, "v.weight", 1, hidden);
            }

            Combine = Uniform(rng, "weight", hidden, keyWidth + hidden);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ComputeDevice Device { get; }

    public AttentionKind Kind { get; }

    /// <summary>H.</summary>
    public int Hidden { get; }

    /// <summary>K = D·H.</summary>
    public int KeyWidth { get; }

    /// <summary>Features of a projected key: H (Luong's W_a h̄_s, Bahdanau's W_k h̄_s with A = H).</summary>
    public int ProjectedWidth => Hidden;

    /// <summary>Luong's W_a [H, K].</summary>
    public Parameter<T>? Weight { get; }

    /// <summary>Bahdanau's W_q [A, H].</summary>
    public Parameter<T>? Query { get; }

    /// <summary>Bahdanau's W_k [A, K].</summary>
    public Parameter<T>? Key { get; }

    /// <summary>Bahdanau's v [1, A].</summary>
    public Parameter<T>? V { get; }

    /// <summary>W_c [H, K + H].</summary>
    public Parameter<T> Combine { get; } = null!;

    /// <summary>The score's parameters under their names below <c>attention.</c>.</summary>
    public IEnumerable<Parameter<T>> ScoreParameters() =>
        Kind == AttentionKind.Luong ? [Weight!] : [Query!, Key!, V!];

    /// <summary>The projected keys [B, S, H] of encoder outputs [B, S, K]: W_a h̄_s or W_k h̄_s, computed once per source.</summary>
    public Tensor<T> Keys(BufferSlice<T> encoderOutput, int batch, int steps)
    {
        int rows = batch * steps;
        var keys = Tensor<T>.Zeros(Device, batch, steps, ProjectedWidth);
        var w = Kind == AttentionKind.Luong ? Weight! : Key!;
        Device.Ops<T>().Gemm(GemmShape.Dense(rows, ProjectedWidth, KeyWidth, false, true), Num<T>.One, encoderOutput, w.Value.Data, Num<T>.Zero, keys.Data);
        return keys;
    }

    /// <summary>h̃ [B·U, H] of decoder outputs [B·U, H] against the encoder outputs [B·S, K] and their keys.</summary>
    /// <param name="decoder">[B·U, H].</param>
    /// <param name="encoder">[B·S, K].</param>
    /// <param name="keys">[B·S, H] from <see cref="Keys"/>.</param>
    /// <param name="rowLengths">[B·U]: the source length of each query's batch row.</param>
    /// <param name="batch">B.</param>
    /// <param name="queries">U.</param>
    /// <param name="steps">S.</param>
    /// <returns>What the backward needs, the weights α [B, U, S] and h̃; dispose it.</returns>
    public AttentionPass<T> Forward(BufferSlice<T> decoder, BufferSlice<T> encoder, BufferSlice<T> keys, BufferSlice<T> rowLengths, int batch, int queries, int steps)
    {
        var ops = Device.Ops<T>();
        int h = Hidden, k = KeyWidth, rows = batch * queries;
        var pass = new AttentionPass<T>(Device, batch, queries, steps, h, k, Kind == AttentionKind.Bahdanau);
        try
        {
            if (Kind == AttentionKind.Luong)
            {
                ops.BatchedGemm(
                    batch, GemmShape.Dense(queries, steps, h, false, true), (long)queries * h, (long)steps * h, (long)queries * steps,
                    Num<T>.One, decoder, keys, Num<T>.Zero, pass.Alpha.Data);
            }
            else
            {
                ops.Gemm(GemmShape.Dense(rows, h, h, false, true), Num<T>.One, decoder, Query!.Value.Data, Num<T>.Zero, pass.Q!.Data);
                ops.AdditiveScores(batch, queries, steps, h, pass.Q.Data, keys, V!.Value.Data, pass.Alpha.Data);
            }

            ops.MaskedSoftmax(rows, steps, pass.Alpha.Data, rowLengths, pass.Alpha.Data);
            ops.BatchedGemm(
                batch, GemmShape.Dense(queries, k, steps, false, false), (long)queries * steps, (long)steps * k, (long)queries * k,
                Num<T>.One, pass.Alpha.Data, encoder, Num<T>.Zero, pass.Context.Data);

            // h̃ = tanh(c·W_c[:, :K]ᵀ + h·W_c[:, K:]ᵀ).
            var wc = Combine.Value.Data;
            ops.Gemm(new GemmShape(rows, h, k, k, k + h, h, 0, 1), Num<T>.One, pass.Context.Data, wc, Num<T>.Zero, pass.Combined.Data);
            ops.Gemm(new GemmShape(rows, h, h, h, k + h, h, 0, 1), Num<T>.One, decoder, wc.Slice(k, wc.Length - k), Num<T>.One, pass.Combined.Data);
            ops.Tanh(pass.Combined.Data, pass.Combined.Data);
            return pass;
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Back-propagates d loss / d h̃ [B·U, H]: adds every attention parameter's gradient, writes
    /// d loss / d decoder outputs into <paramref name="dDecoder"/> [B·U, H] and adds d loss / d
    /// encoder outputs into <paramref name="dEncoder"/> [B·S, K].
    /// </summary>
    public void Backward(
        AttentionPass<T> pass, BufferSlice<T> decoder, BufferSlice<T> encoder, BufferSlice<T> keys, BufferSlice<T> dCombined, BufferSlice<T> dDecoder, BufferSlice<T> dEncoder)
    {
        var ops = Device.Ops<T>();
        int batch = pass.Batch, queries = pass.Queries, steps = pass.Steps, h = Hidden, k = KeyWidth, rows = batch * queries;
        T one = Num<T>.One, zero = Num<T>.Zero;
        using var dPre = Tensor<T>.Zeros(Device, rows, h);
        using var dContext = Tensor<T>.Zeros(Device, rows, k);
        using var dScores = Tensor<T>.Zeros(Device, batch, queries, steps);
        ops.TanhBackward(pass.Combined.Data, dCombined, dPre.Data);

        var wc = Combine.Value.Data;
        var dwc = Combine.Grad.Data;
        ops.Gemm(new GemmShape(h, k, rows, h, k, k + h, 1, 0), one, dPre.Data, pass.Context.Data, one, dwc);
        ops.Gemm(new GemmShape(h, h, rows, h, h, k + h, 1, 0), one, dPre.Data, decoder, one, dwc.Slice(k, dwc.Length - k));
        ops.Gemm(new GemmShape(rows, k, h, h, k + h, k, 0, 0), one, dPre.Data, wc, zero, dContext.Data);
        ops.Gemm(new GemmShape(rows, h, h, h, k + h, h, 0, 0), one, dPre.Data, wc.Slice(k, wc.Length - k), zero, dDecoder);

        long us = (long)queries * steps, uk = (long)queries * k, sk = (long)steps * k, uh = (long)queries * h, sh = (long)steps * h;
        ops.BatchedGemm(batch, GemmShape.Dense(queries, steps, k, false, true), uk, sk, us, one, dContext.Data, encoder, zero, dScores.Data);
        ops.BatchedGemm(batch, GemmShape.Dense(steps, k, queries, true, false), us, uk, sk, one, pass.Alpha.Data, dContext.Data, one, dEncoder);

        ops.SoftmaxBackward(rows, steps, pass.Alpha.Data, dScores.Data, dScores.Data);
        using var dKeys = Tensor<T>.Zeros(Device, batch * steps, h);
        if (Kind == AttentionKind.Luong)
        {
            ops.BatchedGemm(batch, GemmShape.Dense(queries, h, steps, false, false), us, sh, uh, one, dScores.Data, keys, one, dDecoder);
            ops.BatchedGemm(batch, GemmShape.Dense(steps, h, queries, true, false), us, uh, sh, one, dScores.Data, decoder, zero, dKeys.Data);
        }
        else
        {
            using var dq = Tensor<T>.Zeros(Device, rows, h);
            using var dv = Tensor<T>.Zeros(Device, h);
            ops.AdditiveScoresBackward(batch, queries, steps, h, pass.Q!.Data, keys, V!.Value.Data, dScores.Data, dq.Data, dKeys.Data, dv.Data);
            ops.Axpy(one, dv.Data, V.Grad.Data);
            ops.Gemm(GemmShape.Dense(h, h, rows, true, false), one, dq.Data, decoder, one, Query!.Grad.Data);
            ops.Gemm(GemmShape.Dense(rows, h, h, false, false), one, dq.Data, Query.Value.Data, one, dDecoder);
        }

        // keys = enc·Wᵀ: dW += dkeysᵀ·enc, d enc += dkeys·W.
        var w = Kind == AttentionKind.Luong ? Weight! : Key!;
        ops.Gemm(GemmShape.Dense(h, k, batch * steps, true, false), one, dKeys.Data, encoder, one, w.Grad.Data);
        ops.Gemm(GemmShape.Dense(batch * steps, k, h, false, false), one, dKeys.Data, w.Value.Data, one, dEncoder);
    }

    public void Dispose()
    {
        Weight?.Dispose();
        Query?.Dispose();
        Key?.Dispose();
        V?.Dispose();
        Combine?.Dispose();
    }

    /// <summary>A weight [rows, cols] drawn from U(−1/√cols, 1/√cols), as <c>nn.Linear</c> draws its weight.</summary>
    private Parameter<T> Uniform(Random rng, string name, int rows, int cols)
    {
        double bound = 1.0 / Math.Sqrt(cols);
        var w = new T[(long)rows * cols];
        for (int i = 0; i < w.Length; i++)
            w[i] = Num<T>.From((rng.NextDouble() * 2.0 - 1.0) * bound);
        return new Parameter<T>(name, Tensor<T>.FromArray(Device, w, rows, cols));
    }
}

/// <summary>What one attention forward keeps for its backward: the weights α [B, U, S], the contexts [B·U, K], h̃ [B·U, H] and (Bahdanau) the projected queries [B·U, H].</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class AttentionPass<T> : IDisposable where T : unmanaged
{
    public AttentionPass(ComputeDevice device, int batch, int queries, int steps, int hidden, int keyWidth, bool additive)
    {
        Batch = batch;
        Queries = queries;
        Steps = steps;
        Alpha = Tensor<T>.Zeros(device, batch, queries, steps);
        Context = Tensor<T>.Zeros(device, batch * queries, keyWidth);
        Combined = Tensor<T>.Zeros(device, batch * queries, hidden);
        Q = additive ? Tensor<T>.Zeros(device, batch * queries, hidden) : null;
    }

    public int Batch { get; }

    public int Queries { get; }

    public int Steps { get; }

    public Tensor<T> Alpha { get; }

    public Tensor<T> Context { get; }

    public Tensor<T> Combined { get; }

    public Tensor<T>? Q { get; }

    public void Dispose()
    {
        Alpha.Dispose();
        Context.Dispose();
        Combined.Dispose();
        Q?.Dispose();
    }
}
