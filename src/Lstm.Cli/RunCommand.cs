using Lstm.Runtime;
using Lstm.Runtime.Checkpoints;
using Lstm.Runtime.Devices;
using Lstm.Runtime.IO;
using Lstm.Runtime.Layers;
using Lstm.Runtime.Tensors;

namespace Lstm.Cli;

/// <summary>Runs a PyTorch-trained LSTM on a tensor from a file.</summary>
internal static class RunCommand
{
    public static int Execute(RunOptions o, TextWriter stdout)
    {
        var model = SafeTensorsFile.Read(o.Model);
        var input = SafeTensorsFile.Read(o.Input);
        var (options, prefix) = StateDict.InferLstm(model, o.BatchFirst);
        bool f64 = model.Get(prefix + "weight_ih_l0").DType == SafeTensorDType.F64;
        using var device = ComputeDevice.Open(o.Device);
        var written = f64 ? Run<double>(device, model, input, options, prefix, o) : Run<float>(device, model, input, options, prefix, o);
        stdout.WriteLine($"LSTM(input_size={options.InputSize}, hidden_size={options.HiddenSize}, num_layers={options.NumLayers}, bias={options.Bias}, batch_first={options.BatchFirst}, bidirectional={options.Bidirectional}, proj_size={options.ProjSize}) {(f64 ? "float64" : "float32")} on {device}");
        stdout.WriteLine($"wrote {o.Output}: {written}");
        return Program.Ok;
    }

    private static string Run<T>(ComputeDevice device, SafeTensorsFile model, SafeTensorsFile input, LSTMOptions options, string prefix, RunOptions o)
        where T : unmanaged
    {
        string source = input.Path ?? o.Input;
        var x = input.Get("x");
        string layout = options.BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]";
        bool unbatched = x.Shape.Count == 2;
        if ((x.Shape.Count != 3 && !unbatched) || x.Shape[^1] != options.InputSize || x.ElementCount == 0)
        {
            throw new LstmException(
                $"{source}: tensor 'x' has shape {x.ShapeString}; expected {layout} (or unbatched [seq_len, input_size]) with input_size {options.InputSize}");
        }

        // PyTorch's unbatched input: x [T, I], h0/c0 [L, H]; run as a batch of one.
        int[] xShape = unbatched ? (options.BatchFirst ? [1, x.Shape[0], x.Shape[1]] : [x.Shape[0], 1, x.Shape[1]]) : x.Shape.ToArray();
        int batch = options.BatchFirst ? xShape[0] : xShape[1];
        int ld = options.NumLayers * (options.Bidirectional ? 2 : 1);
        int hOut = options.ProjSize > 0 ? options.ProjSize : options.HiddenSize;
        int[] hShape = unbatched ? [ld, hOut] : [ld, batch, hOut];
        int[] cShape = unbatched ? [ld, options.HiddenSize] : [ld, batch, options.HiddenSize];
        var h0 = input.Contains("h0") ? input.GetWithShape("h0", hShape) : null;
        var c0 = input.Contains("c0") ? input.GetWithShape("c0", cShape) : null;

        using var lstm = new LSTM<T>(device, options);
        StateDict.Load(lstm, model, prefix);
        using var tx = Reshaped<T>(device, x, xShape);
        using var th = h0 is null ? null : Reshaped<T>(device, h0, [ld, batch, hOut]);
        using var tc = c0 is null ? null : Reshaped<T>(device, c0, [ld, batch, options.HiddenSize]);
        using var result = lstm.Forward(tx, th, tc);
        int steps = options.BatchFirst ? xShape[1] : xShape[0];
        int[] outShape = unbatched ? [steps, result.Output.Shape[2]] : result.Output.Shape.ToArray();
        var tensors = new List<SafeTensor>
        {
            WithShape(StateDict.ToSafeTensor("output", result.Output), outShape),
            WithShape(StateDict.ToSafeTensor("h_n", result.HN), hShape),
            WithShape(StateDict.ToSafeTensor("c_n", result.CN), cShape),
        };
        var metadata = new Dictionary<string, string>
        {
            ["producer"] = "IlgpuLstm lstm run",
            ["device"] = device.Name,
            ["batch_first"] = options.BatchFirst ? "true" : "false",
        };
        new SafeTensorsFile(tensors, metadata).Write(o.Output);
        return string.Join(", ", tensors.Select(t => $"{t.Name} {t.ShapeString}"));
    }

    private static Tensor<T> Reshaped<T>(ComputeDevice device, SafeTensor source, int[] shape) where T : unmanaged
    {
        var tensor = new SafeTensor(source.Name, source.DType, shape, source.Data.ToArray());
        return StateDict.ToTensor<T>(device, tensor);
    }

    private static SafeTensor WithShape(SafeTensor t, int[] shape) => new(t.Name, t.DType, shape, t.Data.ToArray());
}
