using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Models;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;
using Lstm.Tests.Shared;
using static Lstm.Runtime.Tests.Seq2SeqModelTests;

namespace Lstm.Runtime.Tests;

/// <summary>
/// Decoding one step at a time: <see cref="Seq2SeqModel{T}.Step"/> over a teacher-forced input
/// gives <see cref="Seq2SeqModel{T}.Forward"/>'s logits on every device, <see cref="Seq2SeqState{T}.Select"/>
/// moves rows with their whole state, and float32 on every device agrees with float64.
/// </summary>
public class Seq2SeqDecodingTests
{
    private const int Vs = 7, Vt = 6;

    public static IEnumerable<object[]> Devices() => TestDevices.Names();

    [Theory]
    [MemberData(nameof(Devices))]
    public void Step_ByStep_EqualsTeacherForcedForward_Float32(string device)
    {
        foreach (var (cell, attention, bidirectional) in new[] { (CellKind.Lstm, AttentionKind.Luong, true), (CellKind.Gru, AttentionKind.Bahdanau, false) })
            StepEqualsForward<float>(TestDevices.Get(device), cell, attention, bidirectional, 2e-5);
    }

    [Theory]
    [InlineData(CellKind.Lstm, AttentionKind.Bahdanau, false)]
    [InlineData(CellKind.Gru, AttentionKind.Luong, true)]
    public void Step_ByStep_EqualsTeacherForcedForward_Float64(CellKind cell, AttentionKind attention, bool bidirectional) =>
        StepEqualsForward<double>(TestDevices.Get("cpu"), cell, attention, bidirectional, 1e-13);

    [Theory]
    [MemberData(nameof(Devices))]
    public void Select_MovesEachRowWithItsWholeState(string device)
    {
        var dev = TestDevices.Get(device);
        using var model = new Seq2SeqModel<float>(dev, Config(CellKind.Lstm, AttentionKind.Bahdanau, true, 2, hidden: 5), seed: 12);
        int[] sourceLengths = [4, 1, 3];
        var rng = new Random(31);
        using var src = Tensor<float>.FromArray(dev, Floats(Tokens(rng, sourceLengths, 4, Vs)), 3, 4);
        using var state = model.Encode(src, sourceLengths);
        Assert.Null(state.LastAttention);
        model.Step(state, [1, 1, 1]).Dispose();
        model.Step(state, [2, 4, 3]).Dispose();
        int[] rows = [2, 0, 0, 1, 2];
        using var selected = state.Select(rows);
        Assert.Equal(rows.Select(r => sourceLengths[r]), selected.SourceLengths);
        Assert.Equal(5, selected.Rows);
        var attention = state.LastAttention!.ToArray();
        var selectedAttention = selected.LastAttention!.ToArray();
        for (int i = 0; i < rows.Length; i++)
            Assert.Equal(attention.AsSpan(rows[i] * 4, 4).ToArray(), selectedAttention.AsSpan(i * 4, 4).ToArray());

        // The next step of a selected row is its source row's next step.
        int[] tokens = [5, 3, 1];
        using var expected = model.Step(state, tokens);
        using var got = model.Step(selected, rows.Select(r => tokens[r]).ToArray());
        var e = expected.ToArray();
        var g = got.ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            var want = e.AsSpan(rows[i] * Vt, Vt).ToArray().Select(v => (double)v).ToArray();
            Assert.True(Numerics.MaxAbsError(g.AsSpan(i * Vt, Vt).ToArray().Select(v => (double)v).ToArray(), want) < 1e-5, $"{device}: selected row {i} (row {rows[i]})");
        }

        // Attention weights: a distribution over each row's own source steps.
        var weights = selected.LastAttention!.ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            int length = sourceLengths[rows[i]];
            Assert.Equal(1.0, weights.Skip(i * 4).Take(length).Sum(v => (double)v), 5);
            Assert.All(weights.Skip(i * 4 + length).Take(4 - length), v => Assert.Equal(0f, v));
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Float32_AgreesWithFloat64_OnEveryDevice(string device)
    {
        var dev = TestDevices.Get(device);
        var cpu = TestDevices.Get("cpu");
        foreach (var attention in new[] { AttentionKind.Luong, AttentionKind.Bahdanau })
        {
            var config = Config(CellKind.Lstm, attention, true, 2, hidden: 9) with { EmbeddingDim = 5, InputSize = 5 };
            const int B = 4, S = 7, U = 5;
            int[] sourceLengths = [7, 3, 1, 5], targetLengths = [2, 5, 4, 1];
            var rng = new Random(41);
            var source = Tokens(rng, sourceLengths, S, Vs);
            var target = Tokens(rng, targetLengths, U, Vt);
            var dLogits = Enumerable.Range(0, B * U * Vt).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            using var single = new Seq2SeqModel<float>(dev, config, seed: 6);
            using var reference = new Seq2SeqModel<double>(cpu, config, seed: 6);
            foreach (var ((_, p32), (_, p64)) in single.NamedParameters().Zip(reference.NamedParameters()))
                p64.Value.CopyFrom(p32.Value.ToArray().Select(v => (double)v).ToArray());

            var (logits32, grads32) = Run(single, dev, source, target, sourceLengths, targetLengths, dLogits, S, U, v => (float)v);
            var (logits64, grads64) = Run(reference, cpu, source, target, sourceLengths, targetLengths, dLogits, S, U, v => v);
            Assert.True(Numerics.MaxRelativeToLargest(logits32, logits64) < 1e-5, $"{device} {attention}: logits");
            for (int i = 0; i < grads32.Count; i++)
                Assert.True(Numerics.MaxRelativeToLargest(grads32[i].Grad, grads64[i].Grad) < 1e-4, $"{device} {attention}: gradient of {grads32[i].Name}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Forward_MatchesTheFloat64Reference(string device)
    {
        var dev = TestDevices.Get(device);
        foreach (var (cell, attention, bidirectional, layers, bias) in new[]
        {
            (CellKind.Lstm, AttentionKind.Luong, true, 2, true), (CellKind.Gru, AttentionKind.Bahdanau, true, 1, true), (CellKind.Lstm, AttentionKind.Bahdanau, false, 2, true),
            (CellKind.Gru, AttentionKind.Luong, true, 2, false),
        })
        {
            const int B = 3, S = 6, U = 5;
            int[] sourceLengths = [3, 6, 1], targetLengths = [5, 2, 4];
            var rng = new Random(layers * 10 + (int)cell);
            var source = Tokens(rng, sourceLengths, S, Vs);
            var target = Tokens(rng, targetLengths, U, Vt);
            using var model = new Seq2SeqModel<float>(dev, Config(cell, attention, bidirectional, layers, hidden: 7) with { Bias = bias }, seed: 13);
            var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => Wide(p.Parameter.Value.ToArray()));
            var expected = Seq2SeqReference.Forward(
                cell == CellKind.Lstm ? RecurrentCell.Lstm : RecurrentCell.Gru, attention == AttentionKind.Bahdanau, layers, bidirectional, parameters,
                source, sourceLengths, target, targetLengths);
            using var src = Tensor<float>.FromArray(dev, Floats(source), B, S);
            using var tgt = Tensor<float>.FromArray(dev, Floats(target), B, U);
            using var logits = model.Forward(src, sourceLengths, tgt, targetLengths);
            double err = Numerics.MaxRelativeToLargest(Wide(logits.ToArray()), expected);
            Assert.True(err < 1e-5, $"{device} {cell} {attention} bidirectional {bidirectional}, {layers} layers: error {err:e2} relative to the largest logit");

            using var model64 = new Seq2SeqModel<double>(TestDevices.Get("cpu"), model.Config, seed: 13);
            foreach (var ((_, p32), (_, p64)) in model.NamedParameters().Zip(model64.NamedParameters()))
                p64.Value.CopyFrom(Wide(p32.Value.ToArray()));
            using var src64 = Tensor<double>.FromArray(TestDevices.Get("cpu"), source, B, S);
            using var tgt64 = Tensor<double>.FromArray(TestDevices.Get("cpu"), target, B, U);
            using var logits64 = model64.Forward(src64, sourceLengths, tgt64, targetLengths);
            Assert.True(Numerics.MaxAbsError(logits64.ToArray(), expected) < 1e-13, $"float64 {cell} {attention}");
        }
    }

    private static (double[] Logits, List<(string Name, double[] Grad)> Grads) Run<T>(
        Seq2SeqModel<T> model, Lstm.Runtime.Devices.ComputeDevice dev, double[] source, double[] target, int[] sourceLengths, int[] targetLengths,
        double[] dLogits, int steps, int targetSteps, Func<double, T> convert)
        where T : unmanaged
    {
        int batch = sourceLengths.Length;
        model.ZeroGrad();
        using var src = Tensor<T>.FromArray(dev, source.Select(convert).ToArray(), batch, steps);
        using var tgt = Tensor<T>.FromArray(dev, target.Select(convert).ToArray(), batch, targetSteps);
        using var logits = model.Forward(src, sourceLengths, tgt, targetLengths, training: true);
        using var d = Tensor<T>.FromArray(dev, dLogits.Select(convert).ToArray(), batch * targetSteps, Vt);
        model.Backward(d);
        return (Wide(logits.ToArray()), model.NamedParameters().Select(p => (p.Name, Wide(p.Parameter.Grad.ToArray()))).ToList());
    }

    private static void StepEqualsForward<T>(Lstm.Runtime.Devices.ComputeDevice dev, CellKind cell, AttentionKind attention, bool bidirectional, double tolerance)
        where T : unmanaged
    {
        const int B = 3, S = 5, U = 4;
        int[] sourceLengths = [5, 2, 3], targetLengths = [4, 1, 3];
        var rng = new Random(19);
        var source = Tokens(rng, sourceLengths, S, Vs);
        var target = Tokens(rng, targetLengths, U, Vt);
        for (int b = 0; b < B; b++)
            target[b * U] = 1; // BOS
        using var model = new Seq2SeqModel<T>(dev, Config(cell, attention, bidirectional, 2, hidden: 5), seed: 21);
        using var src = Tensor<T>.FromArray(dev, source.Select(Num<T>.From).ToArray(), B, S);
        using var tgt = Tensor<T>.FromArray(dev, target.Select(Num<T>.From).ToArray(), B, U);
        using var forward = model.Forward(src, sourceLengths, tgt, targetLengths);
        var expected = Wide(forward.ToArray());
        using var state = model.Encode(src, sourceLengths);
        Assert.Equal(B, state.Rows);
        for (int u = 0; u < U; u++)
        {
            using var logits = model.Step(state, Enumerable.Range(0, B).Select(b => (int)target[b * U + u]).ToArray());
            Assert.Equal([B, Vt], logits.Shape);
            var got = Wide(logits.ToArray());
            for (int b = 0; b < B; b++)
            {
                if (u >= targetLengths[b])
                    continue;
                var want = expected.AsSpan((b * U + u) * Vt, Vt).ToArray();
                double err = Numerics.MaxAbsError(got.AsSpan(b * Vt, Vt).ToArray(), want);
                Assert.True(err < tolerance, $"{dev.Name} {cell} {attention}: step {u}, row {b}: error {err:e2}");
            }
        }
    }

    private static float[] Floats(double[] values) => values.Select(v => (float)v).ToArray();

    private static double[] Wide<T>(T[] values) where T : unmanaged => values.Select(Num<T>.ToDouble).ToArray();
}
