using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;
using static Lstm.Runtime.Recurrent.RowOrder;

namespace Lstm.Runtime.Recurrent;

/// <content>The forward pass over the layer stack.</content>
internal sealed partial class RecurrentEngine<T>
{
    /// <summary>Runs all layers and directions, filling <paramref name="result"/>.</summary>
    /// <remarks>
    /// With <see cref="RecurrentResult{T}.Plan"/> set (variable lengths), rows are sorted by
    /// length on entry, so at step t only the first n_t rows are active and every GEMM and cell
    /// kernel runs on that prefix; rows past their length are never written (their output stays
    /// 0 and their state untouched). The reverse direction starts each row at its own last step,
    /// from h0/c0. Outputs and states are put back in the caller's row order on exit.
    /// </remarks>
    public void Forward(Tensor<T> x, Tensor<T>? h0, Tensor<T>? c0, bool training, RecurrentResult<T> result)
    {
        var o = Config;
        var plan = result.Plan;
        var z = PassSizes.For(o, Cell, result.Steps, result.Batch);
        int steps = z.Steps, batch = z.Batch, dirs = z.Directions, layers = z.Layers;
        var ops = Ops;

        // Time-major input [T, B, I], rows sorted by length.
        BufferSlice<T> input;
        if (o.BatchFirst)
        {
            result.InputTimeMajor = ops.Allocate((long)steps * batch * o.InputSize);
            ops.SwapAxes01(batch, steps, o.InputSize, x.Data, result.InputTimeMajor.All);
            input = result.InputTimeMajor.All;
        }
        else
        {
            input = x.Data;
        }

        BufferSlice<T>? h0s = h0?.Data;
        BufferSlice<T>? c0s = c0?.Data;
        if (plan is { Identity: false })
        {
            input = result.Own(Gather(ops, o.InputSize, steps, plan.Perm, input));
            if (h0s is { } hs)
                h0s = result.Own(Gather(ops, z.HiddenOutput, layers * dirs, plan.Perm, hs));
            if (c0s is { } cs)
                c0s = result.Own(Gather(ops, z.Hidden, layers * dirs, plan.Perm, cs));
        }

        using var hnSorted = ops.Allocate(layers * dirs * z.OutStep);
        using var cnSorted = Cell.HasCellState ? ops.Allocate(layers * dirs * z.StepSize) : null;
        if (h0 is null || (Cell.HasCellState && c0 is null))
            result.ZeroState = ops.Allocate(z.StepSize);

        var layout = Schedule.Layout<T>(o, Cell, plan, batch, steps, backward: false);
        bool storeCells = Cell.HasCellState && (training || plan is not null);
        using (var pass = new ForwardPass<T>
        {
            Cell = Cell, Config = o, Parameters = _params, Schedule = Schedule, Layout = layout,
            Dropout = new LayerDropout(DropoutSeed, o.Dropout), Sizes = z, Plan = plan, Training = training, StoreCells = storeCells,
            H0 = h0s, C0 = c0s, ZeroState = result.ZeroState, HN = hnSorted, CN = cnSorted,
            Scratch = ForwardScratch<T>.Allocate(layout, z, Cell.HasCellState, storeCells, training),
        })
        {
            if (layout.Wave)
                ForwardWavefront(pass, result, input);
            else
                ForwardLayerByLayer(pass, result, input);
        }

        WriteOutputs(z, plan, result, hnSorted, cnSorted);
        if (!training)
            result.ReleaseCache();
    }

    /// <summary>Layer k's cache over its input; with one direction its output (and the dropped copy) is known before it runs.</summary>
    private LayerCache<T> NewLayer(ForwardPass<T> pass, RecurrentResult<T> result, int k, BufferSlice<T> layerInput)
    {
        var z = pass.Sizes;
        int dirs = z.Directions;
        var cache = new LayerCache<T> { Input = layerInput };
        result.Layers.Add(cache);
        // With every row running every step, each direction writes all of its output.
        cache.Stacked = pass.Plan is null ? Ops.AllocateUninitialized(dirs * z.OutPerDirection) : Ops.Allocate(dirs * z.OutPerDirection);
        for (int d = 0; d < dirs; d++)
            cache.Directions.Add(null!);
        if (dirs == 1)
        {
            cache.Output = cache.Stacked.All;
            if (pass.Drops(k))
                cache.Dropped = Ops.Allocate(z.OutPerDirection);
        }

        return cache;
    }

    /// <summary>Stacked one-direction layers as a wavefront: layer k on lane k, block b while layer k+1 runs block b−1.</summary>
    private void ForwardWavefront(ForwardPass<T> pass, RecurrentResult<T> result, BufferSlice<T> input)
    {
        int layers = pass.Sizes.Layers;
        var caches = new LayerCache<T>[layers];
        var laneOf = new int[layers];
        for (int k = 0; k < layers; k++)
        {
            caches[k] = NewLayer(pass, result, k, input);
            input = caches[k].Dropped?.All ?? caches[k].Output;
            laneOf[k] = k;
        }

        Scheduling.WavefrontRunner.Run<T>(
            Device, pass.Layout.BlockLengths(pass.Sizes.Steps, reverse: false), laneOf,
            k => new DirectionForward<T>(pass, k, 0, caches[k], caches[k].Input).Steps());
    }

    /// <summary>One layer after the other, the directions of each side by side; the directions' outputs concatenated, then dropout.</summary>
    private void ForwardLayerByLayer(ForwardPass<T> pass, RecurrentResult<T> result, BufferSlice<T> input)
    {
        var z = pass.Sizes;
        int dirs = z.Directions;
        var ops = Ops;
        for (int k = 0; k < z.Layers; k++)
        {
            var cache = NewLayer(pass, result, k, input);
            var layerInput = input;
            int layer = k;
            RunDirections(dirs, d => new DirectionForward<T>(pass, layer, d, cache, layerInput).Steps());
            if (dirs == 1)
            {
                input = cache.Dropped?.All ?? cache.Output;
                continue;
            }

            // [2, T·B, H_out] → [T·B, 2, H_out] = [T, B, 2·H_out]: the directions side by side.
            cache.Concat = ops.Allocate(dirs * z.OutPerDirection);
            ops.SwapAxes01(dirs, z.Steps * z.Batch, z.HiddenOutput, cache.Stacked!.All, cache.Concat.All);
            cache.Output = cache.Concat.All;
            input = cache.Output;
            if (pass.Drops(k))
            {
                // The next layer reads dropout(output), keyed by (seed, layer k, element of the
                // seq-first output in the caller's row order).
                cache.Dropped = ops.Allocate(dirs * z.OutPerDirection);
                pass.Dropout.Apply(ops, pass.Plan, z.Batch, 0, z.Steps, dirs * z.HiddenOutput, (ulong)k, cache.Output, cache.Dropped.All);
                input = cache.Dropped.All;
            }
        }
    }

    /// <summary>The top layer's output, h_n and c_n in the caller's row order and layout.</summary>
    private void WriteOutputs(PassSizes z, LengthPlan? plan, RecurrentResult<T> result, DeviceBuffer<T> hnSorted, DeviceBuffer<T>? cnSorted)
    {
        var ops = Ops;
        int steps = z.Steps, batch = z.Batch, width = z.Directions * z.HiddenOutput, states = z.Layers * z.Directions;
        var top = result.Layers[^1].Output;
        using var topOwned = plan is { Identity: false } ? Gather(ops, width, steps, plan.Inverse, top) : null;
        if (topOwned is not null)
            top = topOwned.All;
        if (Config.BatchFirst)
        {
            result.Output = Tensor<T>.Uninitialized(Device, batch, steps, width);
            ops.SwapAxes01(steps, batch, width, top, result.Output.Data);
        }
        else
        {
            result.Output = Tensor<T>.Uninitialized(Device, steps, batch, width);
            ops.Copy(top, result.Output.Data);
        }

        result.HN = Tensor<T>.Zeros(Device, states, batch, z.HiddenOutput);
        Restore(ops, z.HiddenOutput, states, plan, hnSorted.All, result.HN.Data);
        if (cnSorted is not null)
        {
            result.CellState = Tensor<T>.Zeros(Device, states, batch, z.Hidden);
            Restore(ops, z.Hidden, states, plan, cnSorted.All, result.CellState.Data);
        }
    }
}
