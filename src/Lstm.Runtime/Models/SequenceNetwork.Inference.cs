using System.Globalization;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>Inference helpers: predictions of a value model as host arrays, sampling from a language model.</summary>
public partial class SequenceNetwork<T>
{
    /// <summary>The predictions of a value model (sequence-to-one or sequence-to-sequence) for x, on the host.</summary>
    /// <param name="x">[B, T, I] on this network's device.</param>
    /// <returns>One array of O values per output row: B rows (sequence-to-one) or B·T rows, row b·T + t.</returns>
    /// <exception cref="LstmException">The network is a language model, or x has the wrong shape.</exception>
    public T[][] Predict(Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (Input != SequenceInput.Values)
            throw new LstmException("Predict is for value models (sequence-to-one, sequence-to-sequence); a language model samples with Generate");
        using var y = Forward(x);
        var flat = y.ToArray();
        int o = OutputSize;
        var rows = new T[flat.Length / o][];
        for (int r = 0; r < rows.Length; r++)
            rows[r] = flat.AsSpan(r * o, o).ToArray();
        return rows;
    }

    /// <summary>The predictions of a value model for x given on the host.</summary>
    /// <param name="x">[B, T, I] row-major: B·T·I values.</param>
    /// <param name="batch">B.</param>
    /// <param name="steps">T.</param>
    /// <returns>One array of O values per output row (see <see cref="Predict(Tensor{T})"/>).</returns>
    /// <exception cref="LstmException">The network is a language model, or x does not hold B·T·I values.</exception>
    public T[][] Predict(ReadOnlySpan<T> x, int batch, int steps)
    {
        if (Input != SequenceInput.Values)
            throw new LstmException("Predict is for value models (sequence-to-one, sequence-to-sequence); a language model samples with Generate");
        if (batch <= 0 || steps <= 0)
            throw new LstmException($"Predict: batch={batch} and steps={steps} must be positive");
        long expected = (long)batch * steps * Config.InputSize;
        if (x.Length != expected)
            throw new LstmException($"Predict: x has {x.Length} values, expected batch·steps·input_size = {batch}·{steps}·{Config.InputSize} = {expected}");
        using var tensor = Tensor<T>.FromArray(Device, x, batch, steps, Config.InputSize);
        return Predict(tensor);
    }

    /// <summary>
    /// Samples <paramref name="count"/> tokens from a unidirectional language model: feeds the
    /// prompt through the streaming <see cref="RecurrentLayer{T}.Step"/>, then draws one token
    /// at a time from softmax(logits / temperature) and feeds it back. Temperature 0 takes the
    /// argmax (the lowest id among ties); otherwise the draws come from <paramref name="seed"/>,
    /// so a seed always gives the same tokens.
    /// </summary>
    /// <param name="prompt">At least one token id, each in [0, V).</param>
    /// <param name="count">How many tokens to generate (≥ 0).</param>
    /// <param name="temperature">≥ 0: 0 is greedy; 1 samples the model's distribution; higher flattens it.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <returns>The generated ids (without the prompt).</returns>
    /// <exception cref="LstmException">Not a unidirectional language model, an empty prompt, a bad id, count or temperature.</exception>
    public int[] Generate(IReadOnlyList<int> prompt, int count, double temperature = 1.0, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (Embedding is null)
            throw new LstmException($"Generate needs a language model; this is a {ModelConfig.KindName(Config.Kind)} model (use Predict)");
        if (Config.Bidirectional)
            throw new LstmException("Generate streams one token at a time, which a bidirectional language model cannot do (its reverse direction reads the future)");
        if (prompt.Count == 0)
            throw new LstmException("Generate: the prompt is empty; give at least one token");
        for (int i = 0; i < prompt.Count; i++)
        {
            if (prompt[i] < 0 || prompt[i] >= Config.VocabSize)
                throw new LstmException($"Generate: prompt token {prompt[i]} at position {i} is not in [0, vocab_size={Config.VocabSize})");
        }

        if (count < 0)
            throw new LstmException($"Generate: count={count} must not be negative");
        if (!(temperature >= 0) || double.IsInfinity(temperature))
            throw new LstmException($"Generate: temperature={temperature.ToString(CultureInfo.InvariantCulture)} must be a finite number ≥ 0");

        var generated = new int[count];
        if (count == 0)
            return generated;
        var rng = new Random(seed);
        RecurrentState<T>? state = null;
        try
        {
            var chunk = prompt.Select(id => Num<T>.From(id)).ToArray();
            for (int n = 0; ; n++)
            {
                var logits = StepLogits(chunk, ref state);
                generated[n] = Sample(logits, temperature, rng);
                if (n + 1 == count)
                    return generated;
                chunk = [Num<T>.From(generated[n])];
            }
        }
        finally
        {
            state?.Dispose();
        }
    }

    /// <summary>Feeds tokens [1, T_chunk] from <paramref name="state"/> (replaced by the new state); returns the last step's logits [V] on the host.</summary>
    private double[] StepLogits(T[] tokens, ref RecurrentState<T>? state)
    {
        using var ids = Tensor<T>.FromArray(Device, tokens, 1, tokens.Length);
        using var embedded = Embedding!.Forward(ids);
        var (output, next) = Recurrent.Step(embedded, state);
        state?.Dispose();
        state = next;
        using (output)
        {
            int hOut = Config.HiddenOutputSize;
            using var logits = Fc.Forward(output.Data.Slice((long)(tokens.Length - 1) * hOut, hOut), 1);
            return logits.ToArray().Select(Num<T>.ToDouble).ToArray();
        }
    }

    /// <summary>argmax (temperature 0) or a draw from softmax(logits / temperature).</summary>
    private static int Sample(double[] logits, double temperature, Random rng)
    {
        int best = 0;
        for (int v = 1; v < logits.Length; v++)
        {
            if (logits[v] > logits[best])
                best = v;
        }

        if (temperature == 0)
            return best;
        double max = logits[best];
        var weights = new double[logits.Length];
        double sum = 0;
        for (int v = 0; v < logits.Length; v++)
        {
            weights[v] = Math.Exp((logits[v] - max) / temperature);
            sum += weights[v];
        }

        double u = rng.NextDouble() * sum;
        double cumulative = 0;
        for (int v = 0; v < weights.Length; v++)
        {
            cumulative += weights[v];
            if (u < cumulative)
                return v;
        }

        return best;
    }
}
