namespace Lstm.Runtime.Backends.Reference;

/// <summary>
/// The teacher-forced forward pass of an encoder-decoder with attention (the runtime's
/// <c>Seq2SeqModel</c>) in float64, straight from its definition: the encoder and decoder by
/// <see cref="NetworkReference.Forward"/>, then the attention of each decoder step one by one.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, S source steps, U target steps, E embedding size, H hidden size,
/// L layers, D encoder directions, K = D·H, Vt target vocabulary. Parameters by their state-dict
/// names (<c>encoder_embedding.weight</c>, <c>encoder.*</c>, <c>decoder_embedding.weight</c>,
/// <c>decoder.*</c>, <c>attention.*</c>, <c>attention_combine.weight</c>, <c>fc.*</c>).
/// </remarks>
public static class Seq2SeqReference
{
    /// <summary>Logits [B·U, Vt], row b·U + u, zero at u ≥ targetLengths[b].</summary>
    /// <param name="cell">Lstm or Gru (the encoder's and the decoder's).</param>
    /// <param name="additive">False: Luong's general score h·(W_a h̄); true: Bahdanau's v·tanh(W_q h + W_k h̄).</param>
    /// <param name="layers">L.</param>
    /// <param name="bidirectional">True: the encoder has D = 2.</param>
    /// <param name="parameters">Every parameter by state-dict name, row-major.</param>
    /// <param name="source">[B, S] tokens.</param>
    /// <param name="sourceLengths">[B] in [1, S].</param>
    /// <param name="decoderInput">[B, U] tokens.</param>
    /// <param name="targetLengths">[B] in [1, U].</param>
    public static double[] Forward(
        RecurrentCell cell, bool additive, int layers, bool bidirectional, IReadOnlyDictionary<string, double[]> parameters,
        double[] source, int[] sourceLengths, double[] decoderInput, int[] targetLengths)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sourceLengths);
        ArgumentNullException.ThrowIfNull(decoderInput);
        ArgumentNullException.ThrowIfNull(targetLengths);
        int batch = sourceLengths.Length, steps = source.Length / batch, targetSteps = decoderInput.Length / batch;
        var fcBias = parameters["fc.bias"];
        int vocab = fcBias.Length;
        int hidden = parameters["fc.weight"].Length / vocab;
        int d = bidirectional ? 2 : 1, width = d * hidden;
        int embedding = EmbeddingDim(parameters, cell, hidden);

        var encoderOptions = new NetworkReferenceOptions
        {
            Cell = cell, InputSize = embedding, HiddenSize = hidden, NumLayers = layers, BatchFirst = true, Bidirectional = bidirectional,
            Bias = parameters.ContainsKey("encoder.bias_ih_l0"),
        };
        var encoder = NetworkReference.Forward(
            encoderOptions, Prefixed(parameters, "encoder."), Embed(parameters["encoder_embedding.weight"], embedding, source), steps, batch, lengths: sourceLengths);

        // The decoder starts from each encoder layer's final state, its directions summed.
        var h0 = SumDirections(encoder.HN, layers, d, batch * hidden);
        var c0 = cell == RecurrentCell.Lstm ? SumDirections(encoder.CN, layers, d, batch * hidden) : null;
        var decoderOptions = encoderOptions with { Bidirectional = false };
        var decoder = NetworkReference.Forward(
            decoderOptions, Prefixed(parameters, "decoder."), Embed(parameters["decoder_embedding.weight"], embedding, decoderInput), targetSteps, batch, h0, c0, targetLengths);

        var combine = parameters["attention_combine.weight"];
        var fc = parameters["fc.weight"];
        var logits = new double[batch * targetSteps * vocab];
        var scores = new double[steps];
        var cat = new double[width + hidden];
        var tilde = new double[hidden];
        for (int b = 0; b < batch; b++)
        {
            for (int u = 0; u < targetLengths[b]; u++)
            {
                var h = decoder.Output.AsSpan((b * targetSteps + u) * hidden, hidden);
                double max = double.NegativeInfinity;
                for (int s = 0; s < sourceLengths[b]; s++)
                {
                    var e = encoder.Output.AsSpan((b * steps + s) * width, width);
                    scores[s] = additive ? Additive(parameters, h, e, hidden, width) : General(parameters["attention.weight"], h, e, hidden, width);
                    max = Math.Max(max, scores[s]);
                }

                double sum = 0;
                for (int s = 0; s < sourceLengths[b]; s++)
                    sum += Math.Exp(scores[s] - max);
                Array.Clear(cat);
                for (int s = 0; s < sourceLengths[b]; s++)
                {
                    double alpha = Math.Exp(scores[s] - max) / sum;
                    for (int j = 0; j < width; j++)
                        cat[j] += alpha * encoder.Output[(b * steps + s) * width + j];
                }

                h.CopyTo(cat.AsSpan(width));
                for (int i = 0; i < hidden; i++)
                {
                    double acc = 0;
                    for (int j = 0; j < width + hidden; j++)
                        acc += combine[i * (width + hidden) + j] * cat[j];
                    tilde[i] = Math.Tanh(acc);
                }

                for (int v = 0; v < vocab; v++)
                {
                    double acc = fcBias[v];
                    for (int i = 0; i < hidden; i++)
                        acc += fc[v * hidden + i] * tilde[i];
                    logits[(b * targetSteps + u) * vocab + v] = acc;
                }
            }
        }

        return logits;
    }

    /// <summary>E from weight_ih_l0 of the decoder: [G·H, E].</summary>
    private static int EmbeddingDim(IReadOnlyDictionary<string, double[]> parameters, RecurrentCell cell, int hidden) =>
        parameters["decoder.weight_ih_l0"].Length / ((cell == RecurrentCell.Lstm ? 4 : 3) * hidden);

    /// <summary>h · (W_a e) with W_a [H, K].</summary>
    private static double General(double[] w, ReadOnlySpan<double> h, ReadOnlySpan<double> e, int hidden, int width)
    {
        double score = 0;
        for (int i = 0; i < hidden; i++)
        {
            double we = 0;
            for (int j = 0; j < width; j++)
                we += w[i * width + j] * e[j];
            score += h[i] * we;
        }

        return score;
    }

    /// <summary>v · tanh(W_q h + W_k e) with W_q [A, H], W_k [A, K], v [1, A], A = H.</summary>
    private static double Additive(IReadOnlyDictionary<string, double[]> parameters, ReadOnlySpan<double> h, ReadOnlySpan<double> e, int hidden, int width)
    {
        var wq = parameters["attention.query.weight"];
        var wk = parameters["attention.key.weight"];
        var v = parameters["attention.v.weight"];
        double score = 0;
        for (int a = 0; a < hidden; a++)
        {
            double z = 0;
            for (int i = 0; i < hidden; i++)
                z += wq[a * hidden + i] * h[i];
            for (int j = 0; j < width; j++)
                z += wk[a * width + j] * e[j];
            score += v[a] * Math.Tanh(z);
        }

        return score;
    }

    /// <summary>The rows of a table [V, E] for tokens [N]: [N, E].</summary>
    private static double[] Embed(double[] table, int dim, double[] tokens)
    {
        var x = new double[tokens.Length * dim];
        for (int n = 0; n < tokens.Length; n++)
            Array.Copy(table, (int)tokens[n] * dim, x, n * dim, dim);
        return x;
    }

    /// <summary>[L, B·H] from [L·D, B·H].</summary>
    private static double[] SumDirections(double[] state, int layers, int directions, int block)
    {
        var sum = new double[layers * block];
        for (int l = 0; l < layers; l++)
        {
            for (int dir = 0; dir < directions; dir++)
            {
                for (int i = 0; i < block; i++)
                    sum[l * block + i] += state[(l * directions + dir) * block + i];
            }
        }

        return sum;
    }

    /// <summary>The parameters under a prefix, the prefix removed.</summary>
    private static Dictionary<string, double[]> Prefixed(IReadOnlyDictionary<string, double[]> parameters, string prefix) =>
        parameters.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(p => p.Key[prefix.Length..], p => p.Value);
}
