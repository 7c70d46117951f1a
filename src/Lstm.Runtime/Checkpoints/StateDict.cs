using System.Globalization;
using System.Text.RegularExpressions;
using Lstm.Runtime.Devices;
using Lstm.Runtime.IO;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Checkpoints;

/// <summary>
/// Parameters to and from safetensors files under PyTorch's state-dict names and shapes, so a
/// <c>state_dict()</c> saved by PyTorch with safetensors loads here, and one saved here loads there.
/// </summary>
public static partial class StateDict
{
    [GeneratedRegex(@"^(?<prefix>.*?)weight_ih_l(?<layer>\d+)(?<suffix>_reverse)?$", RegexOptions.CultureInvariant)]
    private static partial Regex WeightIhName();

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
    /// Infers an LSTM's configuration from state-dict names and shapes: the layers from
    /// <c>weight_ih_l{k}</c>, I and H from <c>weight_ih_l0</c> [4H, I], bias from <c>bias_ih_l0</c>.
    /// Names may share a prefix (<c>lstm.weight_ih_l0</c>), which is returned.
    /// </summary>
    /// <param name="file">The state dict.</param>
    /// <param name="batchFirst">The layout of x, which the state dict does not record.</param>
    /// <exception cref="LstmException">The names or shapes are not an LSTM's.</exception>
    public static (LSTMOptions Options, string Prefix) InferLstm(SafeTensorsFile file, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(file);
        string source = file.Path ?? "state dict";
        var byPrefix = new SortedDictionary<string, SortedSet<int>>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            var m = WeightIhName().Match(t.Name);
            if (!m.Success)
                continue;
            if (m.Groups["suffix"].Success)
                throw new LstmException($"{source}: '{t.Name}' belongs to a bidirectional LSTM, which this version does not run");
            string p = m.Groups["prefix"].Value;
            if (!byPrefix.TryGetValue(p, out var set))
                byPrefix[p] = set = [];
            set.Add(int.Parse(m.Groups["layer"].Value, CultureInfo.InvariantCulture));
        }

        if (byPrefix.Count == 0)
            throw new LstmException($"{source}: no LSTM parameters (expected weight_ih_l0, weight_hh_l0, ...; the file has: {string.Join(", ", file.Tensors.Select(t => t.Name))})");

        // PyTorch's own names win over prefixed copies (a file may also hold 'grad.weight_ih_l0', say).
        string prefix;
        if (byPrefix.ContainsKey(""))
            prefix = "";
        else if (byPrefix.Count == 1)
            prefix = byPrefix.Keys.First();
        else
            throw new LstmException($"{source}: LSTM parameters under several prefixes ({string.Join(", ", byPrefix.Keys.Select(k => $"'{k}'"))}); keep one LSTM per file");
        var layers = byPrefix[prefix];
        int count = layers.Count;
        if (layers.Min != 0 || layers.Max != count - 1)
            throw new LstmException($"{source}: LSTM layers are not numbered 0..{count - 1} (found l{string.Join(", l", layers)})");
        if (file.Contains(prefix + "weight_hr_l0"))
            throw new LstmException($"{source}: '{prefix}weight_hr_l0' belongs to an LSTM with proj_size, which this version does not run");
        var wih = file.Get(prefix + "weight_ih_l0");
        if (wih.Shape.Count != 2 || wih.Shape[0] % 4 != 0 || wih.Shape[0] == 0)
            throw new LstmException($"{source}: '{prefix}weight_ih_l0' has shape {wih.ShapeString}; expected [4*hidden_size, input_size]");
        int hidden = wih.Shape[0] / 4;
        int input = wih.Shape[1];
        bool bias = file.Contains(prefix + "bias_ih_l0");
        return (new LSTMOptions(input, hidden, count, bias, batchFirst), prefix);
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
