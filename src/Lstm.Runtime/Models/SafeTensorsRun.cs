using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Recurrent;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Models;

/// <summary>The settings of a run of a PyTorch-trained recurrent layer on tensors from files (<c>lstm run</c>).</summary>
public sealed record SafeTensorsRunSettings
{
    /// <summary>The safetensors state dict (PyTorch names and shapes).</summary>
    public string Model { get; init; } = "";

    /// <summary>The safetensors file with x, and optionally h0 and c0.</summary>
    public string Input { get; init; } = "";

    /// <summary>The safetensors file to write with output, h_n and (LSTM) c_n.</summary>
    public string Output { get; init; } = "";

    /// <summary>The device's name.</summary>
    public string Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The name of the float32 products' precision.</summary>
    public string Precision { get; init; } = PrecisionNames.Default;

    /// <summary>Whether x and output are [batch, seq, feature].</summary>
    public bool BatchFirst { get; init; }

    /// <summary>lstm, gru, rnn-tanh or rnn-relu; null: inferred from the state dict (an RNN needs it).</summary>
    public string? Cell { get; init; }

    /// <summary>Sequence lengths: a tensor name in the input file, or a safetensors file holding 'lengths'; null: none.</summary>
    public string? Lengths { get; init; }
}

/// <summary>What a run wrote.</summary>
/// <param name="Network">The layer as PyTorch would print it.</param>
/// <param name="DType">float32 or float64.</param>
/// <param name="Device">The device, in words.</param>
/// <param name="Written">The tensors written and their shapes.</param>
public sealed record SafeTensorsRunResult(string Network, string DType, string Device, string Written);

/// <summary>Runs a PyTorch-trained LSTM, GRU or RNN on a tensor from a file and writes its outputs to another.</summary>
public static class SafeTensorsRun
{
    /// <summary>The network to run: cell and options as inferred from the state dict and the flags.</summary>
    private sealed record Network(string Cell, RecurrentShape Shape, bool BatchFirst, string Prefix)
    {
        public int Directions => Shape.Bidirectional ? 2 : 1;

        public int OutSize => Shape.ProjSize > 0 ? Shape.ProjSize : Shape.HiddenSize;

        public bool HasCell => Cell == "lstm";

        public string Describe() =>
            $"{(Cell.StartsWith("rnn", StringComparison.Ordinal) ? "RNN" : Cell.ToUpperInvariant())}(input_size={Shape.InputSize}, hidden_size={Shape.HiddenSize}, num_layers={Shape.NumLayers}, bias={Shape.Bias}, batch_first={BatchFirst}, bidirectional={Shape.Bidirectional}"
            + (Cell == "lstm" ? $", proj_size={Shape.ProjSize}" : "")
            + (Cell.StartsWith("rnn", StringComparison.Ordinal) ? $", nonlinearity={Cell[4..]}" : "") + ")";
    }

    /// <summary>Reads the files, checks them against each other and the settings, runs the layer and writes <see cref="SafeTensorsRunSettings.Output"/>.</summary>
    /// <param name="o">The settings.</param>
    /// <exception cref="LstmException">A bad setting, file, tensor shape or cell; the message names it.</exception>
    public static SafeTensorsRunResult Execute(SafeTensorsRunSettings o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var precision = PrecisionNames.ParseOption(o.Precision);
        var model = SafeTensorsFile.Read(o.Model);
        var input = SafeTensorsFile.Read(o.Input);
        var (shape, prefix) = StateDict.InferRecurrent(model);
        var net = new Network(ResolveCell(o, shape, model.Path ?? o.Model), shape, o.BatchFirst, prefix);
        bool f64 = model.Get(prefix + "weight_ih_l0").DType == SafeTensorDType.F64;
        using var device = ComputeDevice.Open(o.Device, precision);
        var written = f64 ? Run<double>(device, model, input, net, o) : Run<float>(device, model, input, net, o);
        return new SafeTensorsRunResult(net.Describe(), f64 ? "float64" : "float32", device.ToString(), written);
    }

    private static string ResolveCell(SafeTensorsRunSettings o, RecurrentShape shape, string source)
    {
        string inferred = shape.Gates switch { 4 => "lstm", 3 => "gru", _ => "rnn" };
        if (o.Cell is null)
        {
            if (inferred == "rnn")
                throw new LstmException($"{source}: an RNN's nonlinearity cannot be told from its weights: give --cell rnn-tanh or --cell rnn-relu");
            return inferred;
        }

        string cell = o.Cell.ToLowerInvariant();
        if (cell is not ("lstm" or "gru" or "rnn-tanh" or "rnn-relu"))
            throw new LstmException($"--cell {o.Cell}: expected lstm, gru, rnn-tanh or rnn-relu");
        if (!cell.StartsWith(inferred, StringComparison.Ordinal))
            throw new LstmException($"--cell {o.Cell}, but {source} holds {shape.CellWithArticle} ('{inferred}': weight_ih_l0 has {shape.Gates}·hidden_size rows)");
        return cell;
    }

    private static string Run<T>(ComputeDevice device, SafeTensorsFile model, SafeTensorsFile input, Network net, SafeTensorsRunSettings o)
        where T : unmanaged
    {
        string source = input.Path ?? o.Input;
        var s = net.Shape;
        var x = input.Get("x");
        string layout = net.BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]";
        bool unbatched = x.Shape.Count == 2;
        if ((x.Shape.Count != 3 && !unbatched) || x.Shape[^1] != s.InputSize || x.ElementCount == 0)
        {
            throw new LstmException(
                $"{source}: tensor 'x' has shape {x.ShapeString}; expected {layout} (or unbatched [seq_len, input_size]) with input_size {s.InputSize}");
        }

        // PyTorch's unbatched input: x [T, I], h0/c0 [L·D, H]; run as a batch of one.
        int[] xShape = unbatched ? (net.BatchFirst ? [1, x.Shape[0], x.Shape[1]] : [x.Shape[0], 1, x.Shape[1]]) : x.Shape.ToArray();
        int batch = net.BatchFirst ? xShape[0] : xShape[1];
        int steps = net.BatchFirst ? xShape[1] : xShape[0];
        int ld = s.NumLayers * net.Directions;
        int[] hShape = unbatched ? [ld, net.OutSize] : [ld, batch, net.OutSize];
        int[] cShape = unbatched ? [ld, s.HiddenSize] : [ld, batch, s.HiddenSize];
        var h0 = input.Contains("h0") ? input.GetWithShape("h0", hShape) : null;
        if (!net.HasCell && input.Contains("c0"))
            throw new LstmException($"{source}: tensor 'c0' is given, but a {net.Cell.ToUpperInvariant()} has no cell state");
        var c0 = net.HasCell && input.Contains("c0") ? input.GetWithShape("c0", cShape) : null;
        var lengths = o.Lengths is null ? null : ReadLengths(o.Lengths, input, source, batch);

        using var tx = Reshaped<T>(device, x, xShape);
        using var th = h0 is null ? null : Reshaped<T>(device, h0, [ld, batch, net.OutSize]);
        using var tc = c0 is null ? null : Reshaped<T>(device, c0, [ld, batch, s.HiddenSize]);
        var tensors = new List<SafeTensor>();
        var parameters = Parameters<T>(device, net, out var layer);
        using (layer)
        {
            StateDict.LoadExact(parameters.Select(p => (p.Name, p)), model, net.Prefix);
            using var result = layer is LSTM<T> lstm ? lstm.Forward(tx, th, tc, lengths: lengths) : layer.Forward(tx, th, lengths: lengths);
            int[] outShape = unbatched ? [steps, result.Output.Shape[2]] : result.Output.Shape.ToArray();
            tensors.Add(WithShape(StateDict.ToSafeTensor("output", result.Output), outShape));
            tensors.Add(WithShape(StateDict.ToSafeTensor("h_n", result.HN), hShape));
            if (result is LSTMResult<T> lr)
                tensors.Add(WithShape(StateDict.ToSafeTensor("c_n", lr.CN), cShape));
        }

        var metadata = new Dictionary<string, string>
        {
            ["producer"] = "IlgpuLstm lstm run",
            ["device"] = device.Name,
            ["cell"] = net.Cell,
            ["batch_first"] = net.BatchFirst ? "true" : "false",
        };
        new SafeTensorsFile(tensors, metadata).Write(o.Output);
        return string.Join(", ", tensors.Select(t => $"{t.Name} {t.ShapeString}"));
    }

    private static List<Parameter<T>> Parameters<T>(ComputeDevice device, Network net, out RecurrentLayer<T> layer) where T : unmanaged
    {
        var s = net.Shape;
        var recurrent = RecurrentLayers.Create<T>(device, ModelConfig.ParseCell(net.Cell), s.InputSize, s.HiddenSize, s.NumLayers, s.Bias, net.BatchFirst, dropout: 0, s.Bidirectional, s.ProjSize);
        layer = recurrent;
        return recurrent.Parameters().ToList();
    }

    /// <summary>Sequence lengths from a tensor of the input file, or from a safetensors file (its tensor 'lengths', or its only tensor).</summary>
    private static int[] ReadLengths(string spec, SafeTensorsFile input, string inputSource, int batch)
    {
        SafeTensor tensor;
        string where;
        if (input.Contains(spec))
        {
            tensor = input.Get(spec);
            where = $"{inputSource}: tensor '{spec}'";
        }
        else if (File.Exists(spec))
        {
            var file = SafeTensorsFile.Read(spec);
            if (file.Contains("lengths"))
                tensor = file.Get("lengths");
            else if (file.Tensors.Count == 1)
                tensor = file.Tensors[0];
            else
                throw new LstmException($"{spec}: no tensor 'lengths' (the file has: {string.Join(", ", file.Tensors.Select(t => t.Name))})");
            where = $"{spec}: tensor '{tensor.Name}'";
        }
        else
        {
            throw new LstmException($"--lengths {spec}: neither a tensor of {inputSource} nor a file");
        }

        if (tensor.ElementCount != batch || tensor.Shape.Count > 1)
            throw new LstmException($"{where} has shape {tensor.ShapeString}; expected [{batch}] (one length per sequence)");
        var values = tensor.ToFloat64();
        var lengths = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] != Math.Floor(values[i]) || values[i] < int.MinValue || values[i] > int.MaxValue)
                throw new LstmException($"{where}: element {i} = {values[i].ToString(CultureInfo.InvariantCulture)} is not a whole number");
            lengths[i] = (int)values[i];
        }

        return lengths;
    }

    private static Tensor<T> Reshaped<T>(ComputeDevice device, SafeTensor source, int[] shape) where T : unmanaged
    {
        var tensor = new SafeTensor(source.Name, source.DType, shape, source.Data.ToArray());
        return StateDict.ToTensor<T>(device, tensor);
    }

    private static SafeTensor WithShape(SafeTensor t, int[] shape) => new(t.Name, t.DType, shape, t.Data.ToArray());
}
