using System.Diagnostics;
using Lstm.Runtime.Data;
using Lstm.Runtime.Models;
using Lstm.Runtime.Scheduling;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <content>The data-parallel step of a <see cref="Trainer{T}"/> over several replicas, and the measurement of their speeds that cuts the batch into shards.</content>
public sealed partial class Trainer<T>
{
    /// <summary>
    /// One data-parallel step: every replica runs forward and backward on its shard at once, its
    /// loss gradient scaled by shard / B so that the sum over replicas is the whole batch's mean;
    /// then the gradients are reduced into replica 0, which clips, steps and broadcasts its weights.
    /// </summary>
    private (double Loss, double LearningRate, double GradNorm, long Epoch)? TrainStepParallel(DataParallel<T> parallel)
    {
        var before = _loader.Position;
        var batch = _loader.Next();
        long epoch = _loader.Position.Epoch;
        ulong seed = DropoutSeedFor(Options.Seed, Step + 1);
        var losses = new double[parallel.Replicas.Count];
        double whole = RowsWeight(batch, 0, Options.BatchSize);
        parallel.ForEachReplica(r =>
        {
            var model = parallel.Replicas[r];
            int offset = parallel.Offsets[r], rows = parallel.Shards[r];
            double weight = whole > 0 ? RowsWeight(batch, offset, rows) / whole : 0;
            model.DropoutSeed = DataParallel<T>.DropoutSeedFor(seed, r);
            model.ZeroGrad();
            var (loss, grad, _) = Forward(model, batch, offset, rows, training: true);
            using (grad)
            {
                grad.Ops.Scale(Num<T>.From(weight), grad.Data);
                model.Backward(grad);
            }

            losses[r] = loss * weight;
        });
        double total = 0;
        foreach (double l in losses)
            total += l;
        parallel.ReduceGradients();
        var parameters = _parameters.Select(p => p.Parameter);
        double norm = Options.ClipNorm > 0 ? GradientClipping.ClipGradNorm(parameters, Options.ClipNorm) : GradientClipping.GradNorm(parameters);
        Schedule.Apply(Optimizer);
        double lr = Optimizer.LearningRate;
        if (!Finite(total, norm, before))
            return _nonFinite is null ? (total, lr, norm, epoch) : null;
        Optimizer.Step();
        parallel.BroadcastWeights();
        Step++;
        _lastTrainLoss = total;
        return (total, lr, norm, epoch);
    }

    /// <summary>
    /// The weight of rows [first, first + rows) of a batch in its mean loss: the rows, or with
    /// class weights their classes' summed weights; every step of variable-length samples counts
    /// only the steps within their lengths.
    /// </summary>
    private double RowsWeight(Batch batch, int first, int rows)
    {
        bool everyStep = _model.Output == SequenceOutput.EveryStep;
        var weights = Options.ClassWeights;
        if (weights is null && (!everyStep || batch.Lengths is null))
            return rows;
        int steps = batch.Steps > 0 ? batch.Steps : _train.Steps;
        int yLen = _train.TargetLength;
        double sum = 0;
        for (int b = first; b < first + rows; b++)
        {
            int count = everyStep ? (batch.Lengths is { } lengths ? lengths[b] : steps) : 1;
            for (int t = 0; t < count; t++)
            {
                double v = batch.Y[b * yLen + t];
                sum += weights is null ? 1 : weights[Math.Clamp((int)v, 0, weights.Count - 1)];
            }
        }

        return sum;
    }

    /// <summary>Per replica, 1 / the seconds of a forward and backward pass on a probe batch (the first B training samples; one untimed pass first, then the faster of two).</summary>
    private double[] MeasureSpeeds(IReadOnlyList<ISequenceModel<T>> replicas)
    {
        var probe = DataLoader.Load(_train, Enumerable.Range(0, Options.BatchSize).ToArray());
        var speeds = new double[replicas.Count];
        for (int r = 0; r < replicas.Count; r++)
        {
            var model = replicas[r];
            ReplicaTransfer.Bind(model.Device);
            double best = double.PositiveInfinity;
            for (int pass = 0; pass < 3; pass++)
            {
                var clock = Stopwatch.StartNew();
                var (_, grad, _) = Forward(model, probe, 0, Options.BatchSize, training: true);
                using (grad)
                    model.Backward(grad);
                model.ZeroGrad();
                model.Device.Synchronize();
                if (pass > 0)
                    best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }

            speeds[r] = 1 / Math.Max(best, 1e-9);
        }

        ReplicaTransfer.Bind(replicas[0].Device);
        return speeds;
    }
}
