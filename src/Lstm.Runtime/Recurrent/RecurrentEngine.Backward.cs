using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;
using static Lstm.Runtime.Recurrent.RowOrder;

namespace Lstm.Runtime.Recurrent;

/// <content>The backward pass over the layer stack.</content>
internal sealed partial class RecurrentEngine<T>
{
    /// <summary>Back-propagates through a training forward, filling <paramref name="grads"/> and accumulating parameter gradients.</summary>
    public void Backward(RecurrentResult<T> forward, Tensor<T>? dOutput, Tensor<T>? dHN, Tensor<T>? dCN, RecurrentGradients<T> grads)
    {
        var o = Config;
        var plan = forward.Plan;
        bool permuted = plan is { Identity: false };
        var z = PassSizes.For(o, Cell, forward.Steps, forward.Batch);
        int steps = z.Steps, batch = z.Batch, dirs = z.Directions, layers = z.Layers, outSize = z.HiddenOutput, hidden = z.Hidden;
        var ops = Ops;

        using var dh0Sorted = ops.Allocate(layers * dirs * z.OutStep);
        using var dc0Sorted = Cell.HasCellState ? ops.Allocate(layers * dirs * z.StepSize) : null;
        using var zeros = ops.Allocate(Math.Max(dirs * z.OutPerDirection, z.StepSize));
        var layout = Schedule.Layout<T>(o, Cell, plan, batch, steps, backward: true);
        using var dySplit = dirs > 1 ? ops.Allocate(dirs * z.OutPerDirection) : null;
        using var dhnSorted = permuted && dHN is not null ? Gather(ops, outSize, layers * dirs, plan!.Perm, dHN.Data) : null;
        using var dcnSorted = permuted && dCN is not null ? Gather(ops, hidden, layers * dirs, plan!.Perm, dCN.Data) : null;
        using var pass = new BackwardPass<T>
        {
            Cell = Cell, Config = o, Parameters = _params, Schedule = Schedule, Layout = layout,
            Dropout = new LayerDropout(DropoutSeed, o.Dropout), Sizes = z, Forward = forward,
            DHN = dhnSorted?.All ?? dHN?.Data, DCN = dcnSorted?.All ?? dCN?.Data,
            DH0 = dh0Sorted, DC0 = dc0Sorted, Zeros = zeros, DySplit = dySplit,
            Scratch = BackwardScratch<T>.Allocate(layout, z, Cell.SeparateHiddenGradient),
        };

        // d loss / d (top layer's output), time-major [T, B, D·H_out], rows sorted.
        DeviceBuffer<T>? dyOwned = null;
        BufferSlice<T> dy;
        if (dOutput is null)
        {
            dy = zeros.Slice(0, dirs * z.OutPerDirection);
        }
        else if (o.BatchFirst)
        {
            dyOwned = ops.Allocate(dirs * z.OutPerDirection);
            ops.SwapAxes01(batch, steps, dirs * outSize, dOutput.Data, dyOwned.All);
            dy = dyOwned.All;
        }
        else
        {
            dy = dOutput.Data;
        }

        try
        {
            if (permuted && dOutput is not null)
                Replace(ref dyOwned, ref dy, Gather(ops, dirs * outSize, steps, plan!.Perm, dy));
            if (layout.Wave)
                Replace(ref dyOwned, ref dy, BackwardWavefront(pass, dy));
            else
                BackwardLayerByLayer(pass, ref dyOwned, ref dy);

            // dy is now dx, time-major with rows sorted.
            int[] xShape = o.BatchFirst ? [batch, steps, o.InputSize] : [steps, batch, o.InputSize];
            grads.DX = Tensor<T>.Zeros(Device, xShape);
            if (permuted)
                Replace(ref dyOwned, ref dy, Gather(ops, o.InputSize, steps, plan!.Inverse, dy));
            if (o.BatchFirst)
                ops.SwapAxes01(steps, batch, o.InputSize, dy, grads.DX.Data);
            else
                ops.Copy(dy, grads.DX.Data);
        }
        finally
        {
            dyOwned?.Dispose();
        }

        grads.DH0 = Tensor<T>.Zeros(Device, layers * dirs, batch, outSize);
        Restore(ops, outSize, layers * dirs, plan, dh0Sorted.All, grads.DH0.Data);
        if (dc0Sorted is not null)
        {
            grads.DC0State = Tensor<T>.Zeros(Device, layers * dirs, batch, hidden);
            Restore(ops, hidden, layers * dirs, plan, dc0Sorted.All, grads.DC0State.Data);
        }
    }

    /// <summary>Makes <paramref name="next"/> the gradient walked back through, releasing the one it replaces.</summary>
    private static void Replace(ref DeviceBuffer<T>? owned, ref BufferSlice<T> dy, DeviceBuffer<T> next)
    {
        owned?.Dispose();
        owned = next;
        dy = next.All;
    }

    /// <summary>
    /// Stacked one-direction layers as a wavefront in reverse: layer k+1's d input for block b lets
    /// layer k start on block b while layer k+1 goes on with block b−1. Returns dx [T, B, I].
    /// </summary>
    private DeviceBuffer<T> BackwardWavefront(BackwardPass<T> pass, BufferSlice<T> top)
    {
        var z = pass.Sizes;
        int layers = z.Layers;
        var ops = Ops;
        // Every layer's d input up front (layer k's is layer k-1's dy); layer 0's is dx.
        var dInputs = new DeviceBuffer<T>[layers];
        try
        {
            for (int k = 0; k < layers; k++)
                dInputs[k] = ops.Allocate((long)z.Steps * z.Batch * Config.LayerInput(k));
            var laneOf = new int[layers];
            for (int j = 0; j < layers; j++)
                laneOf[j] = layers - 1 - j;
            // Stage j is layer L−1−j: the top layer first.
            Scheduling.WavefrontRunner.Run<T>(
                Device, pass.Layout.BlockLengths(z.Steps, reverse: true), laneOf,
                j => new DirectionBackward<T>(pass, layers - 1 - j, 0, j == 0 ? top : dInputs[layers - j].All, dInputs[layers - 1 - j]).Steps());
        }
        catch
        {
            dInputs[0]?.Dispose();
            throw;
        }
        finally
        {
            for (int k = 1; k < layers; k++)
                dInputs[k]?.Dispose();
        }

        return dInputs[0];
    }

    /// <summary>
    /// One layer after the other from the top, the directions of each side by side; a bidirectional
    /// layer's d input is the sum of both directions' dgates · W_ih, formed after they joined, in
    /// direction order. Leaves dx [T, B, I] in <paramref name="dy"/>.
    /// </summary>
    private void BackwardLayerByLayer(BackwardPass<T> pass, ref DeviceBuffer<T>? dyOwned, ref BufferSlice<T> dy)
    {
        var z = pass.Sizes;
        int dirs = z.Directions;
        var ops = Ops;
        for (int k = z.Layers - 1; k >= 0; k--)
        {
            int inputK = Config.LayerInput(k);
            if (dirs > 1)
            {
                // [T·B, 2, H_out] → [2, T·B, H_out]: each direction's dy contiguous.
                ops.SwapAxes01(z.Steps * z.Batch, dirs, z.HiddenOutput, dy, pass.DySplit!.All);
            }

            var dInput = ops.Allocate((long)z.Steps * z.Batch * inputK);
            var layerDy = dy;
            int layer = k;
            RunDirections(dirs, d => new DirectionBackward<T>(pass, layer, d, layerDy, dInput).Steps());
            if (dirs > 1)
            {
                for (int d = 0; d < dirs; d++)
                {
                    // d input [T·B, I_k] (+)= dgates [T·B, G] · W_ih [G, I_k]: the layer below's dy (or dx), directions in order.
                    ops.Gemm(GemmShape.Dense(z.Steps * z.Batch, inputK, z.Gates, false, false), Num<T>.One, pass.Scratch[d].DGates.All, _params[k * dirs + d].WeightIh.Value.Data, d == 0 ? Num<T>.Zero : Num<T>.One, dInput.All);
                }

                if (k > 0 && pass.Forward.Layers[k - 1].Dropped is not null)
                {
                    // Back through the dropout on layer k-1's output: the same mask on the gradient.
                    pass.Dropout.Apply(ops, pass.Plan, z.Batch, 0, z.Steps, dirs * z.HiddenOutput, (ulong)(k - 1), dInput.All, dInput.All);
                }
            }

            Replace(ref dyOwned, ref dy, dInput);
        }
    }
}
