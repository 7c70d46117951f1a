using System.Globalization;
using System.Text.RegularExpressions;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Persistence;

/// <summary>
/// Parameters to and from safetensors files under PyTorch's state-dict names and shapes, so a
/// <c>state_dict()</c> saved by PyTorch with safetensors loads here, and one saved here loads there.
/// </summary>
public static partial class StateDict
{
    /// <summary>The prefix of the gradients a golden case stores beside the parameters (<c>grad.weight_ih_l0</c>): never a network's parameters.</summary>
    public const string GradientPrefix = "grad.";

    // ASCII digits only: \d would also match other scripts' digits, which no PyTorch name holds.
    [GeneratedRegex(@"^(?<prefix>.*?)weight_(?:ih|hh)_l(?<layer>[0-9]+)(?<suffix>_reverse)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex RecurrentWeightName();

    /// <summary>Writes named parameters (atomically: a temporary file, then a rename).</summary>
    /// <typeparam name="T">float or double; the file stores F32 or F64 accordingly.</typeparam>
    /// <param name="path">The file to write.</param>
    /// <param name="parameters">Names and parameters, in the order to store them.</param>
    /// <param name="metadata">Extra string metadata for the header.</param>
    public static void Save<T>(string path, IEnumerable<(string Name, Parameter<T> Parameter)> parameters, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var tensors = parameters.Select(p => ToSafeTensor(p.Name, p.Parameter.Value)).ToList();
        new SafeTensorsFile(tensors, metadata).Write(path);
    }

    /// <summary>A device tensor as a safetensors entry (F32 or F64).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="name">The entry's name.</param>
    /// <param name="tensor">The values.</param>
    public static SafeTensor ToSafeTensor<T>(string name, Tensor<T> tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var values = tensor.ToArray();
        int[] shape = tensor.Shape.ToArray();
        return values switch
        {
            float[] f => SafeTensor.FromFloat32(name, shape, f),
            double[] d => SafeTensor.FromFloat64(name, shape, d),
            _ => throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported"),
        };
    }

    /// <summary>A safetensors entry as a device tensor of element type T (converting as needed).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="device">Where to put it.</param>
    /// <param name="tensor">The entry.</param>
    public static Tensor<T> ToTensor<T>(ComputeDevice device, SafeTensor tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int[] shape = tensor.Shape.ToArray();
        if (typeof(T) == typeof(float))
            return (Tensor<T>)(object)Tensor<float>.FromArray(device, tensor.ToFloat32(), shape);
        if (typeof(T) == typeof(double))
            return (Tensor<T>)(object)Tensor<double>.FromArray(device, tensor.ToFloat64(), shape);
        throw new NotSupportedException($"element type {typeof(T).Name}: only float and double are supported");
    }

    /// <summary>
    /// Infers a recurrent network's shape from state-dict names and shapes: the layers from
    /// <c>weight_ih_l{k}</c>, bidirectional from <c>weight_ih_l0_reverse</c>, proj_size and H from
    /// <c>weight_hr_l0</c> [P, H] (an LSTM), otherwise H from <c>weight_hh_l0</c> [G·H, H] and the
    /// gates G/H from its rows (4 LSTM, 3 GRU, 1 RNN), I from <c>weight_ih_l0</c>, bias from
    /// <c>bias_ih_l0</c>. Names may share a prefix (<c>lstm.weight_ih_l0</c>), which is returned.
    /// </summary>
    /// <param name="file">The state dict.</param>
    /// <exception cref="LstmException">The names or shapes are not a recurrent network's.</exception>
    public static (RecurrentShape Shape, string Prefix) InferRecurrent(SafeTensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string source = file.Path ?? "state dict";
        var byPrefix = new SortedDictionary<string, (SortedSet<int> Forward, SortedSet<int> Reverse)>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            var m = RecurrentWeightName().Match(t.Name);
            if (!m.Success)
                continue;
            string p = m.Groups["prefix"].Value;
            if (p.StartsWith(GradientPrefix, StringComparison.Ordinal))
                continue;
            if (!byPrefix.TryGetValue(p, out var sets))
                byPrefix[p] = sets = ([], []);
            (m.Groups["suffix"].Success ? sets.Reverse : sets.Forward).Add(LayerIndex(m.Groups["layer"].Value, t.Name, source));
        }

        if (byPrefix.Count == 0)
            throw new LstmException($"{source}: no recurrent parameters (expected weight_ih_l0, weight_hh_l0, ...; the file has: {NameList(file, 30)})");

        // PyTorch's own names win over prefixed ones; LoadExact then refuses any tensor of the other prefixes.
        string prefix;
        if (byPrefix.ContainsKey(""))
            prefix = "";
        else if (byPrefix.Count == 1)
            prefix = byPrefix.Keys.First();
        else
            throw new LstmException($"{source}: recurrent parameters under several prefixes ({string.Join(", ", byPrefix.Keys.Select(SafeTensorsFile.Quote))}); keep one network per file");
        var (layers, reverse) = byPrefix[prefix];
        int count = layers.Count;
        if (count == 0 || layers.Min != 0 || layers.Max != count - 1)
            throw new LstmException($"{source}: layers are not numbered 0..{Math.Max(count, 1) - 1} (found l{string.Join(", l", layers)})");
        bool bidirectional = reverse.Count > 0;
        if (bidirectional && !reverse.SetEquals(layers))
            throw new LstmException($"{source}: a bidirectional network needs weight_ih_l{{k}}_reverse for every layer 0..{count - 1} (found l{string.Join(", l", reverse)})");
        var wih = file.Get(prefix + "weight_ih_l0");
        if (wih.Shape.Count != 2 || wih.Shape[0] == 0 || wih.Shape[1] == 0)
            throw new LstmException($"{source}: {SafeTensorsFile.Quote(prefix + "weight_ih_l0")} has shape {wih.ShapeString}; expected [gates*hidden_size, input_size]");
        var whh = file.Get(prefix + "weight_hh_l0");
        if (whh.Shape.Count != 2 || whh.Shape[0] != wih.Shape[0] || whh.Shape[1] == 0)
            throw new LstmException($"{source}: {SafeTensorsFile.Quote(prefix + "weight_hh_l0")} has shape {whh.ShapeString}; expected [{wih.Shape[0]}, hidden_size] (rows as weight_ih_l0 {wih.ShapeString})");
        int hidden, proj = 0;
        if (file.Contains(prefix + "weight_hr_l0"))
        {
            var whr = file.Get(prefix + "weight_hr_l0");
            if (whr.Shape.Count != 2 || whr.Shape[0] != whh.Shape[1] || whr.Shape[1] <= whr.Shape[0])
                throw new LstmException($"{source}: {SafeTensorsFile.Quote(prefix + "weight_hr_l0")} has shape {whr.ShapeString}; expected [proj_size={whh.Shape[1]}, hidden_size] with proj_size < hidden_size");
            hidden = whr.Shape[1];
            proj = whr.Shape[0];
        }
        else
        {
            hidden = whh.Shape[1];
        }

        int rows = wih.Shape[0];
        if (rows % hidden != 0 || (rows / hidden != 4 && rows / hidden != 3 && rows / hidden != 1) || (proj > 0 && rows / hidden != 4))
            throw new LstmException($"{source}: {SafeTensorsFile.Quote(prefix + "weight_ih_l0")} has {rows} rows for hidden_size {hidden}; expected 4·H (LSTM), 3·H (GRU) or H (RNN)");
        bool bias = file.Contains(prefix + "bias_ih_l0");
        return (new RecurrentShape(rows / hidden, wih.Shape[1], hidden, count, bias, bidirectional, proj), prefix);
    }

    /// <summary>
    /// Copies a network's parameters from a state dict that must hold each of them under its exact
    /// name and shape, and nothing else but the tensors its format keeps beside the parameters:
    /// a golden case's (<c>__metadata__</c> <c>format</c> <c>lstm-golden/…</c>) inputs, outputs,
    /// upstream gradients, loss and <c>grad.</c> tensors; and, for the prefixes <c>lstm.</c>,
    /// <c>gru.</c> and <c>rnn.</c> of this library's model files, <c>embedding.weight</c>,
    /// <c>fc.weight</c> and <c>fc.bias</c>. A tensor is never taken from another name.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">The parameters under their names without the prefix.</param>
    /// <param name="file">The state dict.</param>
    /// <param name="prefix">The names' prefix, e.g. <c>lstm.</c>, or empty.</param>
    /// <exception cref="LstmException">A tensor is missing, has the wrong shape, or is not one the network or the format knows; the message names the file and the tensor.</exception>
    public static void LoadExact<T>(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, SafeTensorsFile file, string prefix = "") where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(prefix);
        var named = parameters.Select(p => (prefix + p.Name, p.Parameter)).ToList();
        var expected = named.Select(p => p.Item1).ToHashSet(StringComparer.Ordinal);
        var companions = Companions(file, prefix, named.Select(p => p.Item1));
        var extra = file.Tensors.Select(t => t.Name).Where(n => !expected.Contains(n) && !companions.Contains(n)).ToList();
        if (extra.Count > 0)
        {
            string source = file.Path ?? "state dict";
            throw new LstmException(
                $"{source}: tensor {SafeTensorsFile.Quote(extra[0])} is not a parameter of the network"
                + (extra.Count > 1 ? $" (nor are {string.Join(", ", extra.Skip(1).Take(8).Select(SafeTensorsFile.Quote))}{(extra.Count > 9 ? ", ..." : "")})" : "")
                + $"; it expects: {string.Join(", ", named.Take(12).Select(p => p.Item1))}{(named.Count > 12 ? ", ..." : "")}");
        }

        Load(named, file);
    }

    /// <summary>
    /// Infers an LSTM's configuration from state-dict names and shapes (see <see cref="InferRecurrent"/>).
    /// </summary>
    /// <param name="file">The state dict.</param>
    /// <param name="batchFirst">The layout of x, which the state dict does not record.</param>
    /// <exception cref="LstmException">The names or shapes are not an LSTM's.</exception>
    public static (LSTMOptions Options, string Prefix) InferLstm(SafeTensorsFile file, bool batchFirst)
    {
        var (shape, prefix) = InferRecurrent(file);
        if (shape.Gates != 4)
            throw new LstmException($"{file.Path ?? "state dict"}: {SafeTensorsFile.Quote(prefix + "weight_ih_l0")} has {shape.Gates}·hidden_size rows: {shape.CellWithArticle}, not an LSTM (4·hidden_size)");
        return (new LSTMOptions(shape.InputSize, shape.HiddenSize, shape.NumLayers, shape.Bias, batchFirst, Bidirectional: shape.Bidirectional, ProjSize: shape.ProjSize), prefix);
    }

    /// <summary>Infers a GRU's configuration from state-dict names and shapes (see <see cref="InferRecurrent"/>).</summary>
    /// <param name="file">The state dict.</param>
    /// <param name="batchFirst">The layout of x, which the state dict does not record.</param>
    /// <exception cref="LstmException">The names or shapes are not a GRU's.</exception>
    public static (GRUOptions Options, string Prefix) InferGru(SafeTensorsFile file, bool batchFirst)
    {
        var (shape, prefix) = InferRecurrent(file);
        if (shape.Gates != 3)
            throw new LstmException($"{file.Path ?? "state dict"}: {SafeTensorsFile.Quote(prefix + "weight_ih_l0")} has {shape.Gates}·hidden_size rows: {shape.CellWithArticle}, not a GRU (3·hidden_size)");
        return (new GRUOptions(shape.InputSize, shape.HiddenSize, shape.NumLayers, shape.Bias, batchFirst, Bidirectional: shape.Bidirectional), prefix);
    }

    /// <summary>
    /// Infers an RNN's configuration from state-dict names and shapes (see <see cref="InferRecurrent"/>).
    /// The nonlinearity leaves no trace in the weights, so it is given.
    /// </summary>
    /// <param name="file">The state dict.</param>
    /// <param name="batchFirst">The layout of x, which the state dict does not record.</param>
    /// <param name="nonlinearity">tanh or relu.</param>
    /// <exception cref="LstmException">The names or shapes are not an RNN's.</exception>
    public static (RNNOptions Options, string Prefix) InferRnn(SafeTensorsFile file, bool batchFirst, Lstm.Runtime.Nn.RnnNonlinearity nonlinearity)
    {
        var (shape, prefix) = InferRecurrent(file);
        if (shape.Gates != 1)
            throw new LstmException($"{file.Path ?? "state dict"}: {SafeTensorsFile.Quote(prefix + "weight_ih_l0")} has {shape.Gates}·hidden_size rows: {shape.CellWithArticle}, not an RNN (hidden_size)");
        return (new RNNOptions(shape.InputSize, shape.HiddenSize, shape.NumLayers, nonlinearity, shape.Bias, batchFirst, Bidirectional: shape.Bidirectional), prefix);
    }

    /// <summary>Copies a GRU's parameters from a state dict, checking every name and shape.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="gru">The GRU to fill.</param>
    /// <param name="file">The state dict.</param>
    /// <param name="prefix">The names' prefix, or empty.</param>
    /// <exception cref="LstmException">A tensor is missing or has the wrong shape.</exception>
    public static void Load<T>(GRU<T> gru, SafeTensorsFile file, string prefix = "") where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(gru);
        Load(gru.Parameters().Select(p => (prefix + p.Name, p)), file);
    }

    /// <summary>Copies an RNN's parameters from a state dict, checking every name and shape.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="rnn">The RNN to fill.</param>
    /// <param name="file">The state dict.</param>
    /// <param name="prefix">The names' prefix, or empty.</param>
    /// <exception cref="LstmException">A tensor is missing or has the wrong shape.</exception>
    public static void Load<T>(RNN<T> rnn, SafeTensorsFile file, string prefix = "") where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(rnn);
        Load(rnn.Parameters().Select(p => (prefix + p.Name, p)), file);
    }

    /// <summary>
    /// Copies an LSTM's parameters from a state dict, checking every name and shape.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="lstm">The LSTM to fill.</param>
    /// <param name="file">The state dict.</param>
    /// <param name="prefix">The names' prefix, e.g. <c>lstm.</c>, or empty.</param>
    /// <exception cref="LstmException">A tensor is missing or has the wrong shape.</exception>
    public static void Load<T>(LSTM<T> lstm, SafeTensorsFile file, string prefix = "") where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(lstm);
        Load(lstm.Parameters().Select(p => (prefix + p.Name, p)), file);
    }

    /// <summary>Copies named parameters from a state dict, checking every name and shape.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="parameters">Full names and parameters.</param>
    /// <param name="file">The state dict.</param>
    public static void Load<T>(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, SafeTensorsFile file) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(file);
        foreach (var (name, p) in parameters)
        {
            var t = file.GetWithShape(name, p.Shape.ToArray());
            if (typeof(T) == typeof(float))
                ((Tensor<float>)(object)p.Value).CopyFrom(t.ToFloat32());
            else
                ((Tensor<double>)(object)p.Value).CopyFrom(t.ToFloat64());
        }
    }
}

/// <summary>The tensors a state dict's format keeps beside the parameters (see <see cref="StateDict.LoadExact"/>).</summary>
public static partial class StateDict
{
    private static readonly string[] GoldenTensors = ["x", "h0", "c0", "output", "h_n", "c_n", "dy", "dhn", "dcn", "loss"];

    private static readonly string[] ModelFileTensors = ["embedding.weight", "fc.weight", "fc.bias"];

    private static HashSet<string> Companions(SafeTensorsFile file, string prefix, IEnumerable<string> parameterNames)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        if (file.Metadata.TryGetValue("format", out string? format) && format.StartsWith("lstm-golden/", StringComparison.Ordinal))
        {
            known.UnionWith(GoldenTensors);
            known.UnionWith(new[] { "x", "h0", "c0" }.Concat(parameterNames).Select(n => GradientPrefix + n));
        }

        if (prefix is "lstm." or "gru." or "rnn.")
            known.UnionWith(ModelFileTensors);
        return known;
    }

    /// <summary>A layer index of a name: ASCII digits, no leading zero, at most <see cref="int.MaxValue"/>.</summary>
    private static int LayerIndex(string digits, string name, string source)
    {
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
            throw new LstmException($"{source}: tensor {SafeTensorsFile.Quote(name)}: layer index {digits} is too large");
        if (digits.Length > 1 && digits[0] == '0')
            throw new LstmException($"{source}: tensor {SafeTensorsFile.Quote(name)}: layer index {digits} has a leading zero (PyTorch writes l{layer})");
        return layer;
    }

    private static string NameList(SafeTensorsFile file, int max) =>
        string.Join(", ", file.Tensors.Take(max).Select(t => SafeTensorsFile.Quote(t.Name))) + (file.Tensors.Count > max ? ", ..." : "");
}

/// <summary>What a state dict's names and shapes say about a recurrent network (<see cref="StateDict.InferRecurrent"/>).</summary>
/// <param name="Gates">G/H: 4 (LSTM), 3 (GRU), 1 (RNN; tanh or relu cannot be told from the weights).</param>
/// <param name="InputSize">I.</param>
/// <param name="HiddenSize">H.</param>
/// <param name="NumLayers">L.</param>
/// <param name="Bias">Whether bias_ih/bias_hh are present.</param>
/// <param name="Bidirectional">Whether the <c>_reverse</c> parameters are present.</param>
/// <param name="ProjSize">P from weight_hr_l0 (LSTM), else 0.</param>
public sealed record RecurrentShape(int Gates, int InputSize, int HiddenSize, int NumLayers, bool Bias, bool Bidirectional, int ProjSize)
{
    /// <summary>LSTM, GRU or RNN.</summary>
    public string CellName => Gates switch { 4 => "LSTM", 3 => "GRU", _ => "RNN" };

    /// <summary>"an LSTM", "a GRU" or "an RNN" (for messages).</summary>
    public string CellWithArticle => Gates == 3 ? "a GRU" : "an " + CellName;
}
