using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Models;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>Settings of <see cref="SineTrainer"/>.</summary>
/// <param name="HiddenSize">H of the model.</param>
/// <param name="NumLayers">L of the model.</param>
/// <param name="Steps">Training steps (one batch each).</param>
/// <param name="BatchSize">B.</param>
/// <param name="SeqLen">T: the window length of the sine task.</param>
/// <param name="LearningRate">SGD's lr.</param>
/// <param name="Seed">Seeds the initialization and the data.</param>
/// <param name="LogEvery">Report the loss every this many steps.</param>
public sealed record SineTrainerOptions(
    int HiddenSize = 20, int NumLayers = 2, int Steps = 300, int BatchSize = 32, int SeqLen = 20,
    double LearningRate = 0.1, int Seed = 1, int LogEvery = 25);

/// <summary>One line of training progress.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TrainLoss">Mean training MSE since the last report.</param>
/// <param name="ValidationLoss">MSE on a fixed held-out batch.</param>
/// <param name="Elapsed">Time since training began.</param>
public sealed record TrainingProgress(int Step, double TrainLoss, double ValidationLoss, TimeSpan Elapsed);

/// <summary>
/// Trains an <see cref="LSTMModel{T}"/> (LSTM, batch-first, + Linear on the last step) with MSE
/// and plain SGD on freshly drawn <see cref="SineTask"/> batches in a bare loop: no data loader,
/// schedule, validation split or checkpoints, the smallest end-to-end training job (the CLI's
/// <c>lstm train</c> goes through <see cref="Trainer{T}"/> instead).
/// </summary>
public static class SineTrainer
{
    /// <summary>Trains and reports progress; returns the model (the caller disposes it).</summary>
    /// <param name="device">Where to train.</param>
    /// <param name="options">Sizes and schedule.</param>
    /// <param name="report">Called every <see cref="SineTrainerOptions.LogEvery"/> steps and at the end.</param>
    public static LSTMModel<float> Train(ComputeDevice device, SineTrainerOptions options, Action<TrainingProgress>? report = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 0 || options.BatchSize <= 0 || options.SeqLen <= 0 || options.LogEvery <= 0)
            throw new LstmException($"training options must be positive: steps={options.Steps}, batch={options.BatchSize}, seq_len={options.SeqLen}, log_every={options.LogEvery}");
        var task = new SineTask(options.SeqLen);
        var model = new LSTMModel<float>(device, SineTask.InputSize, options.HiddenSize, options.NumLayers, SineTask.OutputSize, options.Seed);
        try
        {
            using var optimizer = new Sgd<float>(model.NamedParameters(), options.LearningRate);
            var rng = new Random(options.Seed);
            var (vx, vy) = task.Sample(new Random(options.Seed + 1000), 256);
            using var validX = Tensor<float>.FromArray(device, ToFloat(vx), 256, options.SeqLen, 1);
            using var validY = Tensor<float>.FromArray(device, ToFloat(vy), 256, 1);
            var clock = Stopwatch.StartNew();
            double sum = 0;
            int count = 0;
            for (int step = 1; step <= options.Steps; step++)
            {
                var (x, y) = task.Sample(rng, options.BatchSize);
                using var tx = Tensor<float>.FromArray(device, ToFloat(x), options.BatchSize, options.SeqLen, 1);
                using var ty = Tensor<float>.FromArray(device, ToFloat(y), options.BatchSize, 1);
                optimizer.ZeroGrad();
                using var prediction = model.Forward(tx, training: true);
                var (loss, grad) = MseLoss.Compute(prediction, ty);
                using (grad)
                    model.Backward(grad);
                optimizer.Step();
                sum += loss;
                count++;
                if (step % options.LogEvery == 0 || step == options.Steps)
                {
                    report?.Invoke(new TrainingProgress(step, sum / count, Validate(model, validX, validY), clock.Elapsed));
                    sum = 0;
                    count = 0;
                }
            }

            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>MSE of the model on a batch, without keeping anything for backward.</summary>
    /// <param name="model">The model.</param>
    /// <param name="x">[B, T, I].</param>
    /// <param name="y">[B, O].</param>
    public static double Validate(LSTMModel<float> model, Tensor<float> x, Tensor<float> y)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var prediction = model.Forward(x);
        var (loss, grad) = MseLoss.Compute(prediction, y);
        grad.Dispose();
        return loss;
    }

    private static float[] ToFloat(double[] v) => Array.ConvertAll(v, d => (float)d);
}
