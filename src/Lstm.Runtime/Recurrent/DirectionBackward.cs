using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;
using static Lstm.Runtime.Recurrent.RowOrder;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The backward loop of direction d of layer k, given d loss / d output: the steps in reverse,
/// each the cell's backward step and the recurrent GEMM dh_prev = dgates_h · W_hh; then the
/// weight gradients as GEMMs over all steps and the bias gradients as one reduction each.
/// </summary>
/// <remarks>
/// With one direction, d input [T·B, I_k] = dgates · W_ih (the layer below's dy, or dx) is formed
/// per block of steps in the wavefront (layers above the first; one block of T steps outside it)
/// as soon as the block is complete, then taken back through the dropout below. A bidirectional
/// layer forms it after both directions joined, in direction order.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionBackward<T> where T : unmanaged
{
    private readonly BackwardPass<T> _pass;
    private readonly PassSizes _z;
    private readonly IRecurrentCell<T> _cell;
    private readonly LengthPlan? _plan;
    private readonly IDeviceOps<T> _ops;
    private readonly BackwardScratch<T> _scratch;
    private readonly DirectionParameters<T> _p;
    private readonly DirectionCache<T> _dc;
    private readonly LayerCache<T> _layer;
    private readonly DeviceBuffer<T> _dInput;
    private readonly BufferSlice<T> _dy;
    private readonly BufferSlice<T> _dh0;
    private readonly BufferSlice<T>? _dc0;
    private readonly int _k;
    private readonly int _d;
    private readonly int _index;
    private readonly int _inputK;
    private readonly int _dInputBlock;
    private readonly bool _dropBelow;
    private BufferSlice<T> _dhRec;
    private BufferSlice<T> _dhNext;

    /// <summary>Prepares direction <paramref name="d"/> of layer <paramref name="k"/>.</summary>
    /// <param name="pass">The pass.</param>
    /// <param name="k">The layer.</param>
    /// <param name="d">The direction.</param>
    /// <param name="dy">d loss / d the layer's output [T, B, D·H_out].</param>
    /// <param name="dInput">d loss / d the layer's input [T, B, I_k], written per block with one direction.</param>
    public DirectionBackward(BackwardPass<T> pass, int k, int d, BufferSlice<T> dy, DeviceBuffer<T> dInput)
    {
        _pass = pass;
        _z = pass.Sizes;
        _cell = pass.Cell;
        _plan = pass.Plan;
        _k = k;
        _d = d;
        _dInput = dInput;
        int slot = pass.Layout.SlotOf(k, d);
        _ops = pass.Layout.Lanes[slot];
        _scratch = pass.Scratch[slot];
        _layer = pass.Forward.Layers[k];
        _inputK = pass.Config.LayerInput(k);
        _dInputBlock = pass.Layout.Wave && k > 0 ? pass.Layout.Block : _z.Steps;
        _dropBelow = k > 0 && pass.Forward.Layers[k - 1].Dropped is not null;
        _index = k * _z.Directions + d;
        _p = pass.Parameters[_index];
        _dc = _layer.Directions[d];
        _dy = _z.Directions == 1 ? dy : pass.DySplit!.Slice(d * _z.OutPerDirection, _z.OutPerDirection);
        _dh0 = pass.DH0.Slice(_index * _z.OutStep, _z.OutStep);
        _dc0 = pass.DC0?.Slice(_index * _z.StepSize, _z.StepSize);
    }

    /// <summary>The loop, one item per step (for the schedulers that interleave steps or hand over blocks of them).</summary>
    public IEnumerable<bool> Steps()
    {
        int steps = _z.Steps;
        bool oneDirection = _z.Directions == 1;
        StartState();
        var whh = _p.WeightHh.Value.Data;
        bool whole = _pass.Schedule.WholeLoop(_ops, _cell, _pass.Config, _plan, _z.Batch, steps, _pass.Layout.Wave) is { } sequence
            && sequence.TryLstmSequenceBackward(new LstmSequenceBackward<T>(
                steps, _z.Batch, _z.Hidden, _d == 1, _dy.Slice(0, _z.OutPerDirection), whh, _dc.Acts!.All, _dc.Cells!.All, _dc.C0,
                _scratch.DhRecA.All, _scratch.Dc.All, _scratch.DGates.Slice(0, steps * _z.GateStep))
            {
                Proj = _z.Proj,
                WeightHr = _p.WeightHr?.Value.Data,
                DhSum = _scratch.DhSum?.All,
                Active = LoopSchedule.ActiveCounts(_plan, _z.Batch),
            });
        whole = whole || WholeCellLoop();
        if (whole)
        {
            // The whole loop as one operation (the same values, bit for bit). Each row of length ≥ 1
            // is left with the gradient of its first step's state; rows of length 0 are EmptyRows'.
            _ops.Copy(_scratch.DhRecA.All, _dh0);
            if (_dc0 is { } dc0v)
                _ops.Copy(_scratch.Dc.All, dc0v);
            if (oneDirection)
                DInput(0, steps);
            yield return true;
        }

        for (int s = whole ? -1 : steps - 1; s >= 0; s--)
        {
            Step(s);
            if (oneDirection && s % _dInputBlock == 0)
                DInput(s, Math.Min(_dInputBlock, steps - s));
            yield return true;
        }

        EmptyRows();
        WeightGradients();
    }

    /// <summary>
    /// A GRU or RNN direction's loop as one operation where the device takes it (<see cref="LoopSchedule.WholeCellLoop{T}"/>):
    /// dh in place in DhRecA (dh0 of every row of length ≥ 1), every step's gate gradients of its active rows in DGates
    /// (and the GRU's DGatesH), as the step loop leaves them.
    /// </summary>
    private bool WholeCellLoop() =>
        _pass.Schedule.WholeCellLoop(_ops, _cell, _pass.Config, _plan, _z.Batch, _z.Steps, _pass.Layout.Wave) is { } cellLoop
        && cellLoop.Ops.TryRecurrentSequenceBackward(new RecurrentSequenceBackward<T>(
            cellLoop.Cell, _z.Steps, _z.Batch, _z.Hidden, _d == 1, _dy.Slice(0, _z.OutPerDirection), _p.WeightHh.Value.Data,
            _dc.Acts?.All, _dc.Output, _dc.H0, _scratch.DhRecA.All, _scratch.DGates.All, _scratch.DGatesH.All)
        {
            Active = LoopSchedule.ActiveCounts(_plan, _z.Batch),
        });

    /// <summary>The recurrent dh (both of GRU's) from dh_n, dc from dc_n (zeros when not given).</summary>
    private void StartState()
    {
        var dhRecA = _scratch.DhRecA;
        var dhRecB = _scratch.DhRecB;
        _dhRec = dhRecA.All;
        _dhNext = dhRecB?.All ?? dhRecA.All;
        StartFrom(dhRecA.All);
        if (dhRecB is not null)
            StartFrom(dhRecB.All);
        if (_cell.HasCellState)
        {
            if (_pass.DCN is { } v)
                _ops.Copy(v.Slice(_index * _z.StepSize, _z.StepSize), _scratch.Dc.All);
            else
                _ops.Fill(_scratch.Dc.All, Num<T>.Zero);
        }
    }

    private void StartFrom(BufferSlice<T> dh)
    {
        if (_pass.DHN is { } v)
            _ops.Copy(v.Slice(_index * _z.OutStep, _z.OutStep), dh);
        else
            _ops.Fill(dh, Num<T>.Zero);
    }

    /// <summary>d input [n·B, I_k] = dgates [n·B, G] · W_ih [G, I_k] for steps t0 … t0+n-1: the layer below's dy (or dx).</summary>
    private void DInput(int t0, int count)
    {
        int batch = _z.Batch;
        _ops.GemmRows(
            GemmShape.Dense(count * batch, _inputK, _z.Gates, false, false), _z.Steps * batch, Num<T>.One,
            _scratch.DGates.Slice(t0 * _z.GateStep, count * _z.GateStep), _p.WeightIh.Value.Data, Num<T>.Zero,
            _dInput.Slice((long)t0 * batch * _inputK, (long)count * batch * _inputK));
        if (_dropBelow)
        {
            // Back through the dropout on layer k-1's output: the same mask on the gradient.
            _pass.Dropout.Apply(_ops, _plan, batch, t0, count, _inputK, (ulong)(_k - 1), _dInput.All, _dInput.All);
        }
    }

    /// <summary>Loop index s (step t = s forward, T−1−s in reverse): the cell's backward step and dh_{t-1} on its active rows.</summary>
    private void Step(int s)
    {
        int steps = _z.Steps, batch = _z.Batch, hidden = _z.Hidden, outSize = _z.HiddenOutput, g = _z.Gates, actsWidth = _z.ActsWidth;
        bool hasC = _cell.HasCellState;
        bool separate = _cell.SeparateHiddenGradient;
        int t = _d == 0 ? s : steps - 1 - s;
        int n = LengthPlan.ActiveRows(_plan, batch, steps, t);
        if (n == 0)
            return;
        int tPrev = _d == 0 ? t - 1 : t + 1;
        var dgT = _scratch.DGates.Slice(t * _z.GateStep, _z.GateStep);
        var dgHT = _scratch.DGatesH.Slice(t * _z.GateStep, _z.GateStep);
        var c = hasC ? _dc.Cells!.Slice(t * _z.StepSize, _z.StepSize) : default;
        var acts = actsWidth > 0 ? _dc.Acts!.Slice((long)t * batch * actsWidth, (long)batch * actsWidth) : default;
        var dyT = _dy.Slice(t * _z.OutStep, _z.OutStep);
        var dcAll = _scratch.Dc.All;
        BufferSlice<T> cellDy, cellDhRec, hCell;
        if (_z.Proj > 0)
        {
            // dh_t [n, P] = dy_t + dh_rec (kept for dW_hr); d(o ⊙ tanh c) [n, H] = dh_t · W_hr.
            var dhRaw = _scratch.DhRaw!;
            var dhs = Rows(_scratch.DhSum!.Slice(t * _z.OutStep, _z.OutStep), 0, n, outSize);
            _ops.Copy(Rows(dyT, 0, n, outSize), dhs);
            _ops.Axpy(Num<T>.One, Rows(_dhRec, 0, n, outSize), dhs);
            _ops.Gemm(GemmShape.Dense(n, hidden, _z.Proj, false, false), Num<T>.One, dhs, _p.WeightHr!.Value.Data, Num<T>.Zero, Rows(dhRaw.All, 0, n, hidden));
            cellDy = dhRaw.All;
            cellDhRec = _pass.Zeros.Slice(0, _z.StepSize);
            hCell = _dc.HRaw!.Slice(t * _z.StepSize, _z.StepSize);
        }
        else
        {
            cellDy = dyT;
            cellDhRec = _dhRec;
            hCell = _dc.Output.Slice(t * _z.OutStep, _z.OutStep);
        }

        foreach (var seg in LengthPlan.Segments(_plan, batch, steps, _d, t))
        {
            int rows = seg.End - seg.Start;
            var hPrev = seg.FromInitial ? _dc.H0 : _dc.Output.Slice(tPrev * _z.OutStep, _z.OutStep);
            var cPrev = !hasC ? default : seg.FromInitial ? _dc.C0 : _dc.Cells!.Slice(tPrev * _z.StepSize, _z.StepSize);
            _cell.Backward(_ops, rows, hidden, new CellBackwardStep<T>(
                Rows(cellDy, seg.Start, rows, hidden),
                Rows(cellDhRec, seg.Start, rows, hidden),
                hasC ? Rows(dcAll, seg.Start, rows, hidden) : default,
                actsWidth > 0 ? Rows(acts, seg.Start, rows, actsWidth) : default,
                Rows(hCell, seg.Start, rows, hidden),
                Rows(hPrev, seg.Start, rows, outSize),
                hasC ? Rows(c, seg.Start, rows, hidden) : default,
                hasC ? Rows(cPrev, seg.Start, rows, hidden) : default,
                Rows(dgT, seg.Start, rows, g),
                Rows(dgHT, seg.Start, rows, g),
                Rows(_dhNext, seg.Start, rows, outSize)));
        }

        // dh_{t-1} [n, H_out] (+)= dgates_h [n, G] · W_hh [G, H_out].
        _ops.Gemm(GemmShape.Dense(n, outSize, g, false, false), Num<T>.One, Rows(dgHT, 0, n, g), _p.WeightHh.Value.Data, separate ? Num<T>.One : Num<T>.Zero, Rows(_dhNext, 0, n, outSize));
        foreach (var seg in LengthPlan.Segments(_plan, batch, steps, _d, t))
        {
            if (!seg.FromInitial)
                continue;
            // These rows began at this step: their gradient is dh0 (and dc0).
            int rows = seg.End - seg.Start;
            _ops.Copy(Rows(_dhNext, seg.Start, rows, outSize), Rows(_dh0, seg.Start, rows, outSize));
            if (_dc0 is { } dc0v)
                _ops.Copy(Rows(dcAll, seg.Start, rows, hidden), Rows(dc0v, seg.Start, rows, hidden));
        }

        (_dhRec, _dhNext) = (_dhNext, _dhRec);
        if (!separate)
            _dhNext = _dhRec;
    }

    /// <summary>Rows of length 0: h_n is h0 (c_n is c0), so dh0 is dh_n (dc0 is dc_n).</summary>
    private void EmptyRows()
    {
        int live = LengthPlan.ActiveRows(_plan, _z.Batch, _z.Steps, 0);
        if (live >= _z.Batch)
            return;
        int rows = _z.Batch - live;
        if (_pass.DHN is { } v)
            _ops.Copy(Rows(v.Slice(_index * _z.OutStep, _z.OutStep), live, rows, _z.HiddenOutput), Rows(_dh0, live, rows, _z.HiddenOutput));
        if (_dc0 is { } dc0v && _pass.DCN is { } w)
            _ops.Copy(Rows(w.Slice(_index * _z.StepSize, _z.StepSize), live, rows, _z.Hidden), Rows(dc0v, live, rows, _z.Hidden));
    }

    /// <summary>dW_hh, dW_ih, the bias gradients and dW_hr: GEMMs and reductions over all steps.</summary>
    private void WeightGradients()
    {
        int steps = _z.Steps, batch = _z.Batch, hidden = _z.Hidden, outSize = _z.HiddenOutput, g = _z.Gates;
        var dgates = _scratch.DGates;
        var dgatesH = _scratch.DGatesH;

        // dW_hh [G, H_out] += Σ_t dgates_h,t^T · h_prev(t): rows that begin at step t read h0, the others the previous output.
        // Forward every row begins at step 0; in reverse, a row begins at its own last step.
        var dWhh = _p.WeightHh.Grad.Data;
        for (int t = 0; t < (_d == 0 ? 1 : steps); t++)
        {
            foreach (var seg in LengthPlan.Segments(_plan, batch, steps, _d, t))
            {
                if (!seg.FromInitial)
                    continue;
                int rows = seg.End - seg.Start;
                _ops.Gemm(GemmShape.Dense(g, outSize, rows, true, false), Num<T>.One, Rows(dgatesH.Slice(t * _z.GateStep, _z.GateStep), seg.Start, rows, g), Rows(_dc.H0, seg.Start, rows, outSize), Num<T>.One, dWhh);
            }
        }

        if (steps > 1)
        {
            long gateFrom = _d == 0 ? _z.GateStep : 0;
            long hFrom = _d == 0 ? 0 : _z.OutStep;
            _ops.Gemm(
                GemmShape.Dense(g, outSize, (steps - 1) * batch, true, false), Num<T>.One,
                dgatesH.Slice(gateFrom, (steps - 1) * _z.GateStep), _dc.Output.Slice(hFrom, (steps - 1) * _z.OutStep), Num<T>.One, dWhh);
        }

        // dW_ih [G, I_k] += dgates^T [G, T·B] · input [T·B, I_k] (rows past their length hold zeros).
        _ops.Gemm(GemmShape.Dense(g, _inputK, steps * batch, true, false), Num<T>.One, dgates.All, _layer.Input, Num<T>.One, _p.WeightIh.Grad.Data);
        if (_p.BiasIh is { } bih && _p.BiasHh is { } bhh)
        {
            if (ReferenceEquals(dgates, dgatesH))
            {
                // One gradient for both biases (an LSTM's): sum the rows once, add it to each.
                using var dBias = _ops.Allocate(g);
                _ops.SumRows(steps * batch, g, dgates.All, Num<T>.Zero, dBias.All);
                _ops.Axpy(Num<T>.One, dBias.All, bih.Grad.Data);
                _ops.Axpy(Num<T>.One, dBias.All, bhh.Grad.Data);
            }
            else
            {
                _ops.SumRows(steps * batch, g, dgates.All, Num<T>.One, bih.Grad.Data);
                _ops.SumRows(steps * batch, g, dgatesH.All, Num<T>.One, bhh.Grad.Data);
            }
        }

        if (_p.WeightHr is { } whr)
        {
            // dW_hr [P, H] += dh^T [P, T·B] · (o ⊙ tanh c) [T·B, H].
            _ops.Gemm(GemmShape.Dense(_z.Proj, hidden, steps * batch, true, false), Num<T>.One, _scratch.DhSum!.All, _dc.HRaw!.All, Num<T>.One, whr.Grad.Data);
        }
    }
}
