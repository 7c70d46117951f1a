using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Recurrent;

/// <content>The checks of the tensors given to a pass, and the streaming step.</content>
internal sealed partial class RecurrentEngine<T>
{
    /// <summary>Runs one chunk of steps (inference) from a carried state; returns the chunk's output and the new state.</summary>
    public (Tensor<T> Output, RecurrentState<T> State) Step(object owner, Tensor<T> x, RecurrentState<T>? state)
    {
        if (Config.Bidirectional)
            throw new LstmException($"Step streams a sequence chunk by chunk, which a bidirectional {Cell.Name} cannot do (its reverse direction starts at the end)");
        var (steps, batch) = CheckInputs(x, state?.H, state?.C);
        var result = new RecurrentResult<T>(owner, steps, batch, training: false);
        try
        {
            Forward(x, state?.H, state?.C, false, result);
            var output = result.Output;
            var next = new RecurrentState<T>(result.HN, result.CellState);
            result.Output = null!;
            result.HN = null!;
            result.CellState = null;
            return (output, next);
        }
        finally
        {
            result.Dispose();
        }
    }

    /// <summary>Checks x, h0 and c0 against the configuration; returns T and B.</summary>
    public (int Steps, int Batch) CheckInputs(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0)
    {
        ArgumentNullException.ThrowIfNull(x);
        var o = Config;
        if (!ReferenceEquals(x.Device, Device))
            throw new LstmException($"x is on device {x.Device.Name} but the {Cell.Name} is on {Device.Name}");
        string layout = o.BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]";
        if (x.Shape.Count != 3 || x.Shape[2] != o.InputSize)
            throw new LstmException($"x has shape {x.ShapeString}; expected {layout} with input_size {o.InputSize}");
        int steps = o.BatchFirst ? x.Shape[1] : x.Shape[0];
        int batch = o.BatchFirst ? x.Shape[0] : x.Shape[1];
        if (steps < 1 || batch < 1)
            throw new LstmException($"x has shape {x.ShapeString}; seq_len and batch must be at least 1");
        CheckShape("h0", h0, [o.NumLayers * o.Directions, batch, o.HiddenOutputSize]);
        CheckShape("c0", c0, [o.NumLayers * o.Directions, batch, o.HiddenSize]);
        return (steps, batch);
    }

    /// <summary>Checks that a forward result can be back-propagated by this engine and the upstream gradients' shapes.</summary>
    public void CheckBackward(RecurrentResult<T> forward, object owner, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN)
    {
        ArgumentNullException.ThrowIfNull(forward);
        var o = Config;
        if (!forward.Training || forward.Layers.Count != o.NumLayers)
            throw new InvalidOperationException("Backward needs the result of a Forward with training: true that has not been disposed");
        if (!ReferenceEquals(forward.Owner, owner))
            throw new InvalidOperationException($"Backward was given the result of another {Cell.Name}'s Forward");
        int steps = forward.Steps;
        int batch = forward.Batch;
        int width = o.Directions * o.HiddenOutputSize;
        int[] outShape = o.BatchFirst ? [batch, steps, width] : [steps, batch, width];
        CheckShape("dOutput", dOutput, outShape);
        CheckShape("dh_n", dHN, [o.NumLayers * o.Directions, batch, o.HiddenOutputSize]);
        CheckShape("dc_n", dCN, [o.NumLayers * o.Directions, batch, o.HiddenSize]);
    }

    private void CheckShape(string name, Tensor<T>? t, int[] expected)
    {
        if (t is null)
            return;
        if (!ReferenceEquals(t.Device, Device))
            throw new LstmException($"{name} is on device {t.Device.Name} but the {Cell.Name} is on {Device.Name}");
        if (!t.HasShape(expected))
            throw new LstmException($"{name} has shape {t.ShapeString}; expected {Tensor<T>.FormatShape(expected)}");
    }
}
