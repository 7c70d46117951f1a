using Lstm.Kernels;

namespace Lstm.Runtime.Backends.Reference;

/// <summary>The cell of a recurrent network, as PyTorch's <c>mode</c> names it.</summary>
public enum RecurrentCell
{
    /// <summary>nn.LSTM (gate order i, f, g, o).</summary>
    Lstm,

    /// <summary>nn.GRU (gate order r, z, n).</summary>
    Gru,

    /// <summary>nn.RNN with nonlinearity='tanh' (mode RNN_TANH).</summary>
    RnnTanh,

    /// <summary>nn.RNN with nonlinearity='relu' (mode RNN_RELU).</summary>
    RnnRelu,
}

/// <summary>
/// The constructor arguments of PyTorch's nn.LSTM / nn.GRU / nn.RNN, for
/// <see cref="NetworkReference.Forward"/>.
/// </summary>
public sealed record NetworkReferenceOptions
{
    /// <summary>Which cell.</summary>
    public required RecurrentCell Cell { get; init; }

    /// <summary>I: features of the input.</summary>
    public required int InputSize { get; init; }

    /// <summary>H: features of the hidden (and, for LSTM, cell) state.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>L: stacked layers.</summary>
    public int NumLayers { get; init; } = 1;

    /// <summary>False: the layers have no b_ih, b_hh.</summary>
    public bool Bias { get; init; } = true;

    /// <summary>True: x and output are [B, T, ·]; false: [T, B, ·]. h0/h_n are [L·D, B, ·] either way.</summary>
    public bool BatchFirst { get; init; }

    /// <summary>True: D = 2 directions per layer, outputs concatenated on features as [forward, reverse].</summary>
    public bool Bidirectional { get; init; }

    /// <summary>P: LSTM only; when &gt; 0, h = (o ⊙ tanh c) W_hr^T is [B, P] (0 &lt; P &lt; H).</summary>
    public int ProjSize { get; init; }

    /// <summary>Drop probability applied to each layer's output except the last's, in [0, 1); 0 for none.</summary>
    public double Dropout { get; init; }

    /// <summary>The seed of the dropout masks (the Philox key).</summary>
    public ulong DropoutSeed { get; init; }

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>H_out: P when projecting, else H.</summary>
    public int OutputHidden => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>G: gate blocks per cell (4 for LSTM, 3 for GRU, 1 for RNN).</summary>
    public int Gates => Cell switch
    {
        RecurrentCell.Lstm => 4,
        RecurrentCell.Gru => 3,
        _ => 1,
    };
}

/// <summary>What <see cref="NetworkReference.Forward"/> computes.</summary>
public sealed class NetworkReferenceResult
{
    /// <summary>[B, T, D·H_out] if batch_first, else [T, B, D·H_out]; zero past a sequence's length.</summary>
    public double[] Output { get; internal set; } = [];

    /// <summary>[L·D, B, H_out], index layer·D + direction: each sequence's state after its own last step.</summary>
    public double[] HN { get; internal set; } = [];

    /// <summary>[L·D, B, H] for LSTM; empty for GRU and RNN.</summary>
    public double[] CN { get; internal set; } = [];
}

/// <summary>
/// A whole recurrent network's forward pass in float64 with PyTorch's semantics over all options,
/// built from the cell, GEMM and dropout references.
/// </summary>
public static class NetworkReference
{
    /// <summary>
    /// The parameters of a network in PyTorch's state-dict order with their shapes: for each layer
    /// k and direction (suffix "" or "_reverse"): weight_ih_l{k} [G·H, I_k], weight_hh_l{k}
    /// [G·H, H_out], bias_ih_l{k} and bias_hh_l{k} [G·H] (with bias), weight_hr_l{k} [P, H]
    /// (LSTM with proj_size). I_0 = I, I_k = D·H_out for k &gt; 0.
    /// </summary>
    /// <param name="options">The network.</param>
    public static IReadOnlyList<(string Name, int[] Shape)> ParameterShapes(NetworkReferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<(string, int[])>();
        int gh = options.Gates * options.HiddenSize;
        for (int k = 0; k < options.NumLayers; k++)
        {
            int ik = k == 0 ? options.InputSize : options.Directions * options.OutputHidden;
            for (int d = 0; d < options.Directions; d++)
            {
                string s = $"_l{k}" + (d == 1 ? "_reverse" : "");
                list.Add(("weight_ih" + s, [gh, ik]));
                list.Add(("weight_hh" + s, [gh, options.OutputHidden]));
                if (options.Bias)
                {
                    list.Add(("bias_ih" + s, [gh]));
                    list.Add(("bias_hh" + s, [gh]));
                }

                if (options.ProjSize > 0)
                    list.Add(("weight_hr" + s, [options.ProjSize, options.HiddenSize]));
            }
        }

        return list;
    }

    /// <summary>
    /// The forward pass of PyTorch's nn.LSTM / nn.GRU / nn.RNN in float64, written step by step
    /// for one sequence at a time, with no batching tricks: the reference for whole networks.
    /// </summary>
    /// <remarks>
    /// <para>Dimension letters: T steps, B batch, I input size, H hidden size, P proj_size,
    /// H_out = P or H, D directions, L layers.</para>
    /// <para>Each layer k runs each direction over each sequence b: the forward direction steps
    /// t = 0 … len_b − 1, the reverse direction t = len_b − 1 … 0, both starting from
    /// h0[k·D + d, b] (c0 likewise). Outputs at t ≥ len_b are 0 and h_n/c_n hold the state after
    /// the direction's last step: PyTorch's semantics for a packed sequence, with the output padded
    /// back to T steps (pad_packed_sequence with total_length = T). The layer's output
    /// at step t is [forward h_t, reverse h_t] on features, the next layer's input.</para>
    /// <para>Dropout (training only in PyTorch; here whenever <see cref="NetworkReferenceOptions.Dropout"/>
    /// &gt; 0) applies to the output of every layer but the last, before it feeds the next layer.
    /// Its mask is <see cref="Philox.Keep"/> keyed by seed = <see cref="NetworkReferenceOptions.DropoutSeed"/>,
    /// stream = the layer index k, and element index (t·B + b)·(D·H_out) + feature in the layer's
    /// padded, seq-first output [T, B, D·H_out], whatever batch_first is; kept elements are scaled
    /// by 1 / (1 − p) (<see cref="DropoutReference.Dropout"/>).</para>
    /// </remarks>
    /// <param name="options">The network's configuration.</param>
    /// <param name="parameters">By PyTorch state-dict name, row-major, shapes as <see cref="ParameterShapes"/> lists.</param>
    /// <param name="x">[B, T, I] if batch_first, else [T, B, I].</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="h0">[L·D, B, H_out], or null for zeros.</param>
    /// <param name="c0">[L·D, B, H] (LSTM only), or null for zeros.</param>
    /// <param name="lengths">[B] each sequence's length in 1 … T, or null for all T.</param>
    /// <exception cref="LstmException">A missing, unexpected or misshaped parameter or input, or an invalid option.</exception>
    public static NetworkReferenceResult Forward(
        NetworkReferenceOptions options, IReadOnlyDictionary<string, double[]> parameters, double[] x, int steps, int batch,
        double[]? h0 = null, double[]? c0 = null, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(x);
        ValidateNetwork(options, parameters, x, steps, batch, h0, c0, lengths);

        int hid = options.HiddenSize;
        int hout = options.OutputHidden;
        int dirs = options.Directions;
        int layers = options.NumLayers;
        bool lstm = options.Cell == RecurrentCell.Lstm;
        int width = dirs * hout;
        var result = new NetworkReferenceResult
        {
            HN = new double[layers * dirs * batch * hout],
            CN = lstm ? new double[layers * dirs * batch * hid] : [],
        };

        // The layer input, seq-first [T, B, I_k].
        int ik = options.InputSize;
        var input = new double[steps * batch * ik];
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int src = options.BatchFirst ? (b * steps + t) * ik : (t * batch + b) * ik;
                Array.Copy(x, src, input, (t * batch + b) * ik, ik);
            }
        }

        for (int k = 0; k < layers; k++)
        {
            var output = new double[steps * batch * width];
            for (int d = 0; d < dirs; d++)
            {
                string s = $"_l{k}" + (d == 1 ? "_reverse" : "");
                var w = new LayerWeights(
                    parameters["weight_ih" + s], parameters["weight_hh" + s],
                    options.Bias ? parameters["bias_ih" + s] : [], options.Bias ? parameters["bias_hh" + s] : [],
                    options.ProjSize > 0 ? parameters["weight_hr" + s] : []);
                int state = k * dirs + d;
                for (int b = 0; b < batch; b++)
                {
                    int len = lengths?[b] ?? steps;
                    var h = h0 is null ? new double[hout] : h0.AsSpan((state * batch + b) * hout, hout).ToArray();
                    var c = c0 is null ? new double[hid] : c0.AsSpan((state * batch + b) * hid, hid).ToArray();
                    for (int i = 0; i < len; i++)
                    {
                        int t = d == 0 ? i : len - 1 - i;
                        var xt = input.AsSpan((t * batch + b) * ik, ik);
                        (h, c) = NetworkStep(options, w, ik, xt, h, c);
                        h.CopyTo(output, (t * batch + b) * width + d * hout);
                    }

                    h.CopyTo(result.HN, (state * batch + b) * hout);
                    if (lstm)
                        c.CopyTo(result.CN, (state * batch + b) * hid);
                }
            }

            if (k < layers - 1 && options.Dropout > 0)
                DropoutReference.Dropout(options.DropoutSeed, (ulong)k, 0, options.Dropout, output, output);
            input = output;
            ik = width;
        }

        result.Output = new double[steps * batch * width];
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int dst = options.BatchFirst ? (b * steps + t) * width : (t * batch + b) * width;
                Array.Copy(input, (t * batch + b) * width, result.Output, dst, width);
            }
        }

        return result;
    }

    private sealed record LayerWeights(double[] Ih, double[] Hh, double[] BiasIh, double[] BiasHh, double[] Hr);

    /// <summary>One step of one sequence: (h_t, c_t) from x_t [I_k], h_{t-1} [H_out], c_{t-1} [H] (LSTM).</summary>
    private static (double[] H, double[] C) NetworkStep(
        NetworkReferenceOptions options, LayerWeights w, int ik, ReadOnlySpan<double> xt, double[] hPrev, double[] cPrev)
    {
        int hid = options.HiddenSize;
        int hout = options.OutputHidden;
        int gh = options.Gates * hid;
        // xproj = W_ih x_t, hproj = W_hh h_{t-1}: [G·H], no biases.
        var xproj = new double[gh];
        var hproj = new double[gh];
        for (int r = 0; r < gh; r++)
        {
            double sx = 0;
            for (int q = 0; q < ik; q++)
                sx += w.Ih[r * ik + q] * xt[q];
            double sh = 0;
            for (int q = 0; q < hout; q++)
                sh += w.Hh[r * hout + q] * hPrev[q];
            xproj[r] = sx;
            hproj[r] = sh;
        }

        switch (options.Cell)
        {
            case RecurrentCell.Lstm:
            {
                var gates = new double[gh];
                for (int r = 0; r < gh; r++)
                    gates[r] = xproj[r] + hproj[r] + (options.Bias ? w.BiasIh[r] + w.BiasHh[r] : 0);
                var c = new double[hid];
                var hCell = new double[hid];
                LstmCellReference.Forward(1, hid, gates, cPrev, c, hCell, new double[gh]);
                if (options.ProjSize == 0)
                    return (hCell, c);
                // h = (o ⊙ tanh c) W_hr^T: [P].
                var h = new double[hout];
                for (int p = 0; p < hout; p++)
                {
                    double s = 0;
                    for (int q = 0; q < hid; q++)
                        s += w.Hr[p * hid + q] * hCell[q];
                    h[p] = s;
                }

                return (h, c);
            }

            case RecurrentCell.Gru:
            {
                var h = new double[hid];
                GruCellReference.Forward(1, hid, xproj, hproj, w.BiasIh, w.BiasHh, hPrev, h, []);
                return (h, cPrev);
            }

            default:
            {
                var h = new double[hid];
                                RnnCellReference.Forward(1, hid, options.Cell == RecurrentCell.RnnRelu, xproj, hproj, w.BiasIh, w.BiasHh, h);
                return (h, cPrev);
            }
        }
    }

    private static void ValidateNetwork(
        NetworkReferenceOptions o, IReadOnlyDictionary<string, double[]> parameters, double[] x, int steps, int batch,
        double[]? h0, double[]? c0, int[]? lengths)
    {
        if (!Enum.IsDefined(o.Cell))
            throw new LstmException($"unknown cell {(int)o.Cell}: expected LSTM, GRU, RNN_TANH or RNN_RELU");
        if (o.InputSize <= 0 || o.HiddenSize <= 0 || o.NumLayers <= 0)
            throw new LstmException($"input_size {o.InputSize}, hidden_size {o.HiddenSize} and num_layers {o.NumLayers} must be positive");
        if (o.ProjSize < 0 || (o.ProjSize > 0 && (o.Cell != RecurrentCell.Lstm || o.ProjSize >= o.HiddenSize)))
            throw new LstmException($"proj_size {o.ProjSize} is invalid: LSTM only, 0 < proj_size < hidden_size {o.HiddenSize}");
        if (!(o.Dropout >= 0 && o.Dropout < 1))
            throw new LstmException($"dropout {o.Dropout} is outside [0, 1)");
        if (steps <= 0 || batch <= 0)
            throw new LstmException($"seq_len {steps} and batch {batch} must be positive");

        var shapes = ParameterShapes(o);
        foreach (var (name, shape) in shapes)
        {
            if (!parameters.TryGetValue(name, out var v))
                throw new LstmException($"parameter {name} [{string.Join(", ", shape)}] is missing");
            long expected = shape.Aggregate(1L, (a, s) => a * s);
            if (v.Length != expected)
                throw new LstmException($"parameter {name} has {v.Length} elements; expected [{string.Join(", ", shape)}] = {expected}");
        }

        var known = shapes.Select(s => s.Name).ToHashSet();
        foreach (var name in parameters.Keys)
        {
            if (!known.Contains(name))
                throw new LstmException($"unexpected parameter {name} for this configuration (expected {string.Join(", ", known)})");
        }

        int states = o.NumLayers * o.Directions;
        string xShape = o.BatchFirst ? $"[{batch}, {steps}, {o.InputSize}]" : $"[{steps}, {batch}, {o.InputSize}]";
        if (x.Length != (long)steps * batch * o.InputSize)
            throw new LstmException($"input x has {x.Length} elements; expected {xShape}");
        if (h0 is not null && h0.Length != (long)states * batch * o.OutputHidden)
            throw new LstmException($"h0 has {h0.Length} elements; expected [{states}, {batch}, {o.OutputHidden}]");
        if (c0 is not null && o.Cell != RecurrentCell.Lstm)
            throw new LstmException($"c0 is given, but a {o.Cell} network has no cell state");
        if (c0 is not null && c0.Length != (long)states * batch * o.HiddenSize)
            throw new LstmException($"c0 has {c0.Length} elements; expected [{states}, {batch}, {o.HiddenSize}]");
        if (lengths is not null)
        {
            if (lengths.Length != batch)
                throw new LstmException($"lengths has {lengths.Length} entries; expected one per sequence ({batch})");
            for (int b = 0; b < batch; b++)
            {
                if (lengths[b] < 1 || lengths[b] > steps)
                    throw new LstmException($"length {lengths[b]} of sequence {b} is outside 1 … {steps}");
            }
        }
    }
}
