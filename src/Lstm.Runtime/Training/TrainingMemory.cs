using System.Globalization;
using Lstm.Runtime.Nn;

namespace Lstm.Runtime.Training;

/// <summary>
/// An estimate, made before anything is allocated, of the memory a training run needs, and the
/// check that it fits: the parameters with their gradients and optimizer state, plus what one
/// step keeps and works in (the activations the backward needs, the working buffers and the
/// head's output for the larger of the training and validation batches). Computed in float64,
/// so no size overflows. <c>ExecutionPlan</c> breaks a run that fits down per device.
/// </summary>
public static class TrainingMemory
{
    /// <summary>The share of the memory the process may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>) a run may plan for.</summary>
    public const double AvailableShare = 0.8;

    /// <summary>The estimate in bytes (float32 elements).</summary>
    /// <param name="model">The model.</param>
    /// <param name="batch">The larger of the training and validation batches.</param>
    /// <param name="steps">T.</param>
    /// <param name="optimizer">The optimizer (its state per parameter).</param>
    /// <param name="momentum">SGD's momentum (state only when &gt; 0).</param>
    public static (double Parameters, double Step) Estimate(ModelConfig model, int batch, int steps, OptimizerKind optimizer, double momentum)
    {
        ArgumentNullException.ThrowIfNull(model);
        const double es = sizeof(float);
        double d = model.Bidirectional ? 2 : 1;
        double h = model.HiddenSize, hOut = model.HiddenOutputSize, p = model.ProjSize;
        double g = h * (model.Cell == CellKind.Lstm ? 4 : model.Cell == CellKind.Gru ? 3 : 1);
        double parameters = 0, perStep = 0;
        double input = model.InputSize;
        for (int k = 0; k < model.NumLayers; k++)
        {
            double ik = k == 0 ? input : d * hOut;
            parameters += d * (g * ik + g * hOut + 2 * g + p * h);
            // Kept for the backward (input, gates, cell, output, projection input) and the working buffers (projections, gate gradients, d input, output).
            perStep += ik + d * (g + 2 * h + 2 * hOut) + d * 2 * g + ik + d * hOut;
        }

        bool lm = model.Kind == ModelKind.LanguageModel;
        parameters += (lm ? (double)model.VocabSize * model.EmbeddingDim : 0) + model.OutputSize * (d * hOut + 1);
        // A language model's logits and their gradient at every step; otherwise the last step's.
        double head = lm ? 2.0 * steps * model.OutputSize : 2.0 * model.OutputSize;
        double state = optimizer == OptimizerKind.Sgd ? (momentum > 0 ? 1 : 0) : 2;
        return (parameters * (2 + state) * es, (double)batch * ((double)steps * perStep + head) * es);
    }

    /// <summary>The bytes a run may plan for: <see cref="AvailableShare"/> of the memory available to the process.</summary>
    public static double Available() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * AvailableShare;

    /// <summary>Throws when the estimate exceeds <see cref="Available"/>, naming the bytes needed and what to shrink.</summary>
    /// <param name="model">The model.</param>
    /// <param name="batch">The larger of the training and validation batches.</param>
    /// <param name="steps">T.</param>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="momentum">SGD's momentum.</param>
    /// <param name="what">What the sizes came from, for the message (options or a config file).</param>
    /// <exception cref="LstmException">The run would not fit.</exception>
    public static void Check(ModelConfig model, int batch, int steps, OptimizerKind optimizer, double momentum, string what)
    {
        var (parameters, step) = Estimate(model, batch, steps, optimizer, momentum);
        double available = Available();
        if (parameters + step <= available)
            return;
        throw new LstmException(
            $"{what}: a training run of hidden {model.HiddenSize} × {model.NumLayers} layers, batch {batch}, {steps} steps would need about {Bytes(parameters + step)} "
            + $"({Bytes(parameters)} for the parameters, gradients and optimizer state, {Bytes(step)} for a step's activations and buffers), "
            + $"more than the {Bytes(available)} this machine allows ({AvailableShare:P0} of {Bytes(available / AvailableShare)}); make the model, the batch or the sequence smaller");
    }

    /// <summary>A byte count for a message: exact bytes and a readable size.</summary>
    /// <param name="bytes">The bytes.</param>
    public static string Bytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        string exact = bytes < 1e18 ? ((long)bytes).ToString("N0", CultureInfo.InvariantCulture) : bytes.ToString("G3", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{exact} bytes ({v:0.#} {units[u]})");
    }
}
