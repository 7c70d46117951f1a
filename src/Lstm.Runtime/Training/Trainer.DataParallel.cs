using System.Diagnostics;
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
        int xLen = _train.Steps * _train.InputSize, yLen = _train.TargetLength;
        parallel.ForEachReplica(r =>
        {
            var model = parallel.Replicas[r];
            int offset = parallel.Offsets[r], rows = parallel.Shards[r];
            double weight = (double)rows / Options.BatchSize;
            model.DropoutSeed = DataParallel<T>.DropoutSeedFor(seed, r);
            model.ZeroGrad();
            var x = batch.X.AsSpan(offset * xLen, rows * xLen).ToArray();
            var y = batch.Y.AsSpan(offset * yLen, rows * yLen).ToArray();
            var (loss, grad) = Forward(model, x, y, rows, training: true);
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

    /// <summary>Per replica, 1 / the seconds of a forward and backward pass on a probe batch (the first B training samples; one untimed pass first, then the faster of two).</summary>
    private double[] MeasureSpeeds(IReadOnlyList<ISequenceModel<T>> replicas)
    {
        var (x, y) = Load(_train, Enumerable.Range(0, Options.BatchSize).ToArray());
        var speeds = new double[replicas.Count];
        for (int r = 0; r < replicas.Count; r++)
        {
            var model = replicas[r];
            ReplicaTransfer.Bind(model.Device);
            double best = double.PositiveInfinity;
            for (int pass = 0; pass < 3; pass++)
            {
                var clock = Stopwatch.StartNew();
                var (_, grad) = Forward(model, x, y, Options.BatchSize, training: true);
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
