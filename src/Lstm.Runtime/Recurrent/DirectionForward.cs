using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Tensors;
using static Lstm.Runtime.Recurrent.RowOrder;

namespace Lstm.Runtime.Recurrent;

/// <summary>
/// The forward loop of direction d of layer k over its input [T, B, I_k]: the input GEMM
/// xproj = input · W_ih^T over all steps, then per step the recurrent GEMM hproj = h_prev · W_hh^T
/// and the cell's step (and, with a projection, h = (o ⊙ tanh c) · W_hr^T); at the end h_n and c_n.
/// </summary>
/// <remarks>
/// In the wavefront (one direction, layers above the first) the input GEMM runs per block of
/// steps instead, each block as soon as the layer below has finished it. With one direction,
/// dropout is applied to each finished block of the output (one block of T steps outside the
/// wavefront). On devices with whole-loop operations (<see cref="LoopSchedule.WholeLoop{T}"/>)
/// the step loop runs as one operation, after the same input GEMM.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class DirectionForward<T> where T : unmanaged
{
    private readonly ForwardPass<T> _pass;
    private readonly PassSizes _z;
    private readonly IRecurrentCell<T> _cell;
    private readonly LengthPlan? _plan;
    private readonly IDeviceOps<T> _ops;
    private readonly ForwardScratch<T> _scratch;
    private readonly DirectionParameters<T> _p;
    private readonly DirectionCache<T> _dc;
    private readonly LayerCache<T> _layer;
    private readonly BufferSlice<T> _input;
    private readonly int _k;
    private readonly int _d;
    private readonly int _index;
    private readonly int _inputK;
    private readonly int _gemmBlock;
    private readonly bool _dropBlocks;

    /// <summary>Prepares direction <paramref name="d"/> of layer <paramref name="k"/> (its cache goes into <paramref name="layer"/>).</summary>
    public DirectionForward(ForwardPass<T> pass, int k, int d, LayerCache<T> layer, BufferSlice<T> input)
    {
        _pass = pass;
        _z = pass.Sizes;
        _cell = pass.Cell;
        _plan = pass.Plan;
        _k = k;
        _d = d;
        _layer = layer;
        _input = input;
        int slot = pass.Layout.SlotOf(k, d);
        _ops = pass.Layout.Lanes[slot];
        _scratch = pass.Scratch[slot];
        _inputK = pass.Config.LayerInput(k);
        _gemmBlock = pass.Layout.Wave && k > 0 ? pass.Layout.Block : _z.Steps;
        _dropBlocks = _z.Directions == 1 && pass.Drops(k);
        _index = k * _z.Directions + d;
        _p = pass.Parameters[_index];
        _dc = new DirectionCache<T>
        {
            H0 = pass.H0 is { } hs ? hs.Slice(_index * _z.OutStep, _z.OutStep) : pass.ZeroState!.Slice(0, _z.OutStep),
            C0 = !_cell.HasCellState ? default : pass.C0 is { } cs ? cs.Slice(_index * _z.StepSize, _z.StepSize) : pass.ZeroState!.All,
            Output = layer.Stacked!.Slice(d * _z.OutPerDirection, _z.OutPerDirection),
        };
        layer.Directions[d] = _dc;
    }

    /// <summary>The loop, one item per step (for the schedulers that interleave steps or hand over blocks of them).</summary>
    public IEnumerable<bool> Steps()
    {
        // What backward needs, allocated on the lane (and the thread) that walks the steps.
        if (_pass.Training && _z.ActsWidth > 0)
            _dc.Acts = _ops.Allocate((long)_z.Steps * _z.Batch * _z.ActsWidth);
        if (_pass.StoreCells)
            _dc.Cells = _ops.Allocate(_z.Steps * _z.StepSize);
        if (_pass.Training && _z.Proj > 0)
            _dc.HRaw = _ops.Allocate(_z.Steps * _z.StepSize);
        int steps = _z.Steps;
        int block = _pass.Layout.Block;
        // Outside the wavefront the input GEMM is one block of all T steps, so the whole loop
        // (the same values, bit for bit) and the step loop share it.
        bool projected = false, whole = false;
        if (_pass.Schedule.WholeLoop(_ops, _cell, _pass.Config, _plan, _z.Batch, steps, _pass.Layout.Wave) is { } sequence)
        {
            InputProjection(0, steps);
            projected = true;
            whole = sequence.TryLstmSequenceForward(new LstmSequenceForward<T>(
                steps, _z.Batch, _z.Hidden, _d == 1, _scratch.XProj.Slice(0, steps * _z.GateStep), _p.WeightHh.Value.Data,
                _p.BiasIh?.Value.Data, _p.BiasHh?.Value.Data, _dc.H0, _dc.C0, _dc.Output,
                _pass.StoreCells ? _dc.Cells!.All : _scratch.CPing!.All, _pass.StoreCells,
                _pass.Training ? _dc.Acts!.All : null, _scratch.HProj.All)
            {
                Proj = _z.Proj,
                WeightHr = _p.WeightHr?.Value.Data,
                HRaw = _z.Proj == 0 ? null : _pass.Training ? _dc.HRaw!.All : _scratch.HRawTmp!.All,
                Active = LoopSchedule.ActiveCounts(_plan, _z.Batch),
            });
        }

        else if (_pass.Schedule.WholeCellLoop(_ops, _cell, _pass.Config, _plan, _z.Batch, steps, _pass.Layout.Wave) is { } cellLoop)
        {
            InputProjection(0, steps);
            projected = true;
            whole = cellLoop.Ops.TryRecurrentSequenceForward(new RecurrentSequenceForward<T>(
                cellLoop.Cell, steps, _z.Batch, _z.Hidden, _d == 1, _scratch.XProj.Slice(0, steps * _z.GateStep), _p.WeightHh.Value.Data,
                _p.BiasIh?.Value.Data, _p.BiasHh?.Value.Data, _dc.H0, _dc.Output,
                _pass.Training && _z.ActsWidth > 0 ? _dc.Acts!.All : null)
            {
                Active = LoopSchedule.ActiveCounts(_plan, _z.Batch),
            });
        }

        // What stays step by step may still run as one recorded CUDA graph, bit for bit the loop below.
        if (!whole && LoopSchedule.StepLoopGraph(_ops, _plan, _z.Batch, steps, _pass.Layout.Wave) is { } graph)
        {
            if (!projected)
                InputProjection(0, steps);
            projected = true;
            whole = graph.TryRunStepLoop(StepLoopKey(), () =>
            {
                for (int s = 0; s < steps; s++)
                    Step(s);
            });
        }

        if (whole)
        {
            if (_dropBlocks)
                Drop(0, steps);
            yield return true;
        }

        for (int s = whole ? steps : 0; s < steps; s++)
        {
            if (s % _gemmBlock == 0 && !projected)
                InputProjection(_d == 0 ? s : 0, _d == 0 ? Math.Min(_gemmBlock, steps - s) : steps);
            Step(s);
            if (_dropBlocks && ((s + 1) % block == 0 || s == steps - 1))
            {
                int t0 = s / block * block;
                Drop(t0, s + 1 - t0);
            }

            yield return true;
        }

        WriteLastState();
    }

    /// <summary>Everything the step loop's operations carry: its sizes and switches, and every buffer it reads or writes.</summary>
    private StepLoopKey<T> StepLoopKey() => new(
        _cell.GetType(),
        [_z.Steps, _z.Batch, _z.Hidden, _z.HiddenOutput, _z.Gates, _z.ActsWidth, _z.Proj, _d, _pass.Training ? 1 : 0, _pass.StoreCells ? 1 : 0],
        [
            _scratch.XProj.Slice(0, _z.Steps * _z.GateStep), _p.WeightHh.Value.Data, _p.BiasIh?.Value.Data, _p.BiasHh?.Value.Data,
            _p.WeightHr?.Value.Data, _dc.H0, _dc.C0, _dc.Output, _dc.Cells?.All, _scratch.CPing?.All, _dc.Acts?.All, _dc.HRaw?.All,
            _scratch.HRawTmp?.All, _scratch.HProj.All,
        ]);

    /// <summary>xproj [n·B, G] = input [n·B, I_k] · W_ih^T for steps t0 … t0+n-1 (each row as one GEMM over all T·B rows computes it).</summary>
    private void InputProjection(int t0, int count)
    {
        int batch = _z.Batch;
        _ops.GemmRows(
            GemmShape.Dense(count * batch, _z.Gates, _inputK, false, true), _z.Steps * batch, Num<T>.One,
            _input.Slice((long)t0 * batch * _inputK, (long)count * batch * _inputK), _p.WeightIh.Value.Data, Num<T>.Zero,
            _scratch.XProj.Slice(t0 * _z.GateStep, count * _z.GateStep));
    }

    /// <summary>
    /// The next layer reads dropout(output) of steps t0 … t0+count-1, keyed by (seed, layer k,
    /// element of the seq-first output in the caller's row order), once those steps are complete.
    /// </summary>
    private void Drop(int t0, int count) =>
        _pass.Dropout.Apply(_ops, _plan, _z.Batch, t0, count, _z.HiddenOutput, (ulong)_k, _layer.Output, _layer.Dropped!.All);

    /// <summary>c of step t (loop index s): kept per step, or the ping-pong slot of s.</summary>
    private BufferSlice<T> CSlot(int t, int s) =>
        _pass.StoreCells ? _dc.Cells!.Slice(t * _z.StepSize, _z.StepSize) : _scratch.CPing!.Slice((s & 1) * _z.StepSize, _z.StepSize);

    /// <summary>Loop index s: step t = s forward, T−1−s in reverse; the recurrent GEMM and the cell on its active rows.</summary>
    private void Step(int s)
    {
        int steps = _z.Steps, batch = _z.Batch, hidden = _z.Hidden, outSize = _z.HiddenOutput, g = _z.Gates, actsWidth = _z.ActsWidth;
        bool training = _pass.Training;
        bool hasC = _cell.HasCellState;
        int t = _d == 0 ? s : steps - 1 - s;
        int n = LengthPlan.ActiveRows(_plan, batch, steps, t);
        if (n == 0)
            return;
        var h = _dc.Output.Slice(t * _z.OutStep, _z.OutStep);
        var c = hasC ? CSlot(t, s) : default;
        var acts = training && actsWidth > 0 ? _dc.Acts!.Slice((long)t * batch * actsWidth, (long)batch * actsWidth) : default;
        var hCell = _z.Proj == 0 ? h : training ? _dc.HRaw!.Slice(t * _z.StepSize, _z.StepSize) : _scratch.HRawTmp!.All;
        var xproj = _scratch.XProj.Slice(t * _z.GateStep, _z.GateStep);
        foreach (var seg in LengthPlan.Segments(_plan, batch, steps, _d, t))
        {
            int rows = seg.End - seg.Start;
            int tPrev = _d == 0 ? t - 1 : t + 1;
            var hPrev = seg.FromInitial ? _dc.H0 : _dc.Output.Slice(tPrev * _z.OutStep, _z.OutStep);
            var cPrev = !hasC ? default : seg.FromInitial ? _dc.C0 : CSlot(tPrev, s - 1);
            var hp = Rows(hPrev, seg.Start, rows, outSize);
            var hpj = Rows(_scratch.HProj.All, seg.Start, rows, g);
            // hproj [b, G] = h_prev [b, H_out] · W_hh^T.
            _ops.Gemm(GemmShape.Dense(rows, g, outSize, false, true), Num<T>.One, hp, _p.WeightHh.Value.Data, Num<T>.Zero, hpj);
            _cell.Forward(_ops, rows, hidden, new CellForwardStep<T>(
                Rows(xproj, seg.Start, rows, g), hpj, _p.BiasIh?.Value.Data, _p.BiasHh?.Value.Data, hp,
                hasC ? Rows(cPrev, seg.Start, rows, hidden) : default,
                Rows(hCell, seg.Start, rows, hidden),
                hasC ? Rows(c, seg.Start, rows, hidden) : default,
                actsWidth > 0 && training ? Rows(acts, seg.Start, rows, actsWidth) : null));
        }

        if (_z.Proj > 0)
        {
            // h [n, P] = (o ⊙ tanh(c)) [n, H] · W_hr^T.
            _ops.Gemm(GemmShape.Dense(n, outSize, hidden, false, true), Num<T>.One, Rows(hCell, 0, n, hidden), _p.WeightHr!.Value.Data, Num<T>.Zero, Rows(h, 0, n, outSize));
        }
    }

    /// <summary>h_n, c_n: each row's state at its own last step (h0, c0 for length 0).</summary>
    private void WriteLastState()
    {
        int steps = _z.Steps, outSize = _z.HiddenOutput, hidden = _z.Hidden;
        var hn = _pass.HN.Slice(_index * _z.OutStep, _z.OutStep);
        var cn = _pass.CN?.Slice(_index * _z.StepSize, _z.StepSize);
        foreach (var (start, end, length) in LengthPlan.LengthGroups(_plan, _z.Batch, steps))
        {
            int rows = end - start;
            int tLast = _d == 0 ? length - 1 : 0;
            var hSrc = length == 0 ? _dc.H0 : _dc.Output.Slice(tLast * _z.OutStep, _z.OutStep);
            _ops.Copy(Rows(hSrc, start, rows, outSize), Rows(hn, start, rows, outSize));
            if (cn is { } cnv)
            {
                var cSrc = length == 0 ? _dc.C0 : CSlot(tLast, _d == 0 ? length - 1 : steps - 1);
                _ops.Copy(Rows(cSrc, start, rows, hidden), Rows(cnv, start, rows, hidden));
            }
        }
    }
}
