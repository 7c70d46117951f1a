namespace Lstm.Runtime.Backends;

/// <content>The cells' steps: sizes not negative, and every operand as long as the step reads or writes.</content>
internal abstract partial class DeviceOps<T>
{
    /// <inheritdoc/>
    public void LstmCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        const string op = "lstm_cell_forward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            long g = 4 * n;
            Require(xproj, g, "xproj [B, 4H]", op);
            Require(hproj, g, "hproj [B, 4H]", op);
            Require(cPrev, n, "c_{t-1} [B, H]", op);
            Require(c, n, "c_t [B, H]", op);
            Require(h, n, "h_t [B, H]", op);
            RequireBiases(biasIh, biasHh, 4L * hidden, "b_ih [4H]", "b_hh [4H]", op);
            if (acts is { } store)
                Require(store, g, "acts [B, 4H]", op);
        }

        LstmCellForwardCore(batch, hidden, xproj, hproj, biasIh, biasHh, cPrev, c, h, acts);
    }

    /// <inheritdoc/>
    public void LstmCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates)
    {
        const string op = "lstm_cell_backward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            Require(dy, n, "dy [B, H]", op);
            Require(dhRec, n, "dh_rec [B, H]", op);
            Require(dc, n, "dc [B, H]", op);
            Require(acts, 4 * n, "acts [B, 4H]", op);
            Require(c, n, "c_t [B, H]", op);
            Require(cPrev, n, "c_{t-1} [B, H]", op);
            Require(dgates, 4 * n, "dgates [B, 4H]", op);
        }

        LstmCellBackwardCore(batch, hidden, dy, dhRec, dc, acts, c, cPrev, dgates);
    }

    /// <inheritdoc/>
    public void GruCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts)
    {
        const string op = "gru_cell_forward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            Require(xproj, 3 * n, "xproj [B, 3H]", op);
            Require(hproj, 3 * n, "hproj [B, 3H]", op);
            Require(hPrev, n, "h_{t-1} [B, H]", op);
            Require(h, n, "h_t [B, H]", op);
            RequireBiases(biasIh, biasHh, 3L * hidden, "b_ih [3H]", "b_hh [3H]", op);
            if (acts is { } store)
                Require(store, 4 * n, "acts [B, 4H]", op);
        }

        GruCellForwardCore(batch, hidden, xproj, hproj, biasIh, biasHh, hPrev, h, acts);
    }

    /// <inheritdoc/>
    public void GruCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev)
    {
        const string op = "gru_cell_backward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            Require(dy, n, "dy [B, H]", op);
            Require(dhRec, n, "dh_rec [B, H]", op);
            Require(acts, 4 * n, "acts [B, 4H]", op);
            Require(hPrev, n, "h_{t-1} [B, H]", op);
            Require(dgatesX, 3 * n, "dgates_x [B, 3H]", op);
            Require(dgatesH, 3 * n, "dgates_h [B, 3H]", op);
            Require(dhPrev, n, "dh_prev [B, H]", op);
        }

        GruCellBackwardCore(batch, hidden, dy, dhRec, acts, hPrev, dgatesX, dgatesH, dhPrev);
    }

    /// <inheritdoc/>
    public void RnnCellForward(
        int batch, int hidden, bool relu, BufferSlice<T> xproj, BufferSlice<T> hproj,
        BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, BufferSlice<T> h)
    {
        const string op = "rnn_cell_forward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            Require(xproj, n, "xproj [B, H]", op);
            Require(hproj, n, "hproj [B, H]", op);
            Require(h, n, "h_t [B, H]", op);
            RequireBiases(biasIh, biasHh, hidden, "b_ih [H]", "b_hh [H]", op);
        }

        RnnCellForwardCore(batch, hidden, relu, xproj, hproj, biasIh, biasHh, h);
    }

    /// <inheritdoc/>
    public void RnnCellBackward(
        int batch, int hidden, bool relu, BufferSlice<T> dy, BufferSlice<T> dhRec,
        BufferSlice<T> h, BufferSlice<T> dgates)
    {
        const string op = "rnn_cell_backward";
        long n = CellSize(batch, hidden, op);
        if (n > 0)
        {
            Require(dy, n, "dy [B, H]", op);
            Require(dhRec, n, "dh_rec [B, H]", op);
            Require(h, n, "h_t [B, H]", op);
            Require(dgates, n, "dgates [B, H]", op);
        }

        RnnCellBackwardCore(batch, hidden, relu, dy, dhRec, h, dgates);
    }

    /// <summary><see cref="LstmCellForward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 4H].</param>
    /// <param name="hproj">[B, 4H].</param>
    /// <param name="biasIh">[4H], or null.</param>
    /// <param name="biasHh">[4H], or null.</param>
    /// <param name="cPrev">[B, H].</param>
    /// <param name="c">[B, H].</param>
    /// <param name="h">[B, H].</param>
    /// <param name="acts">[B, 4H], or null.</param>
    protected abstract void LstmCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts);

    /// <summary><see cref="LstmCellBackward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dy">[B, H].</param>
    /// <param name="dhRec">[B, H].</param>
    /// <param name="dc">[B, H].</param>
    /// <param name="acts">[B, 4H].</param>
    /// <param name="c">[B, H].</param>
    /// <param name="cPrev">[B, H].</param>
    /// <param name="dgates">[B, 4H].</param>
    protected abstract void LstmCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates);

    /// <summary><see cref="GruCellForward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 3H].</param>
    /// <param name="hproj">[B, 3H].</param>
    /// <param name="biasIh">[3H], or null.</param>
    /// <param name="biasHh">[3H], or null.</param>
    /// <param name="hPrev">[B, H].</param>
    /// <param name="h">[B, H].</param>
    /// <param name="acts">[B, 4H], or null.</param>
    protected abstract void GruCellForwardCore(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> hPrev, BufferSlice<T> h, BufferSlice<T>? acts);

    /// <summary><see cref="GruCellBackward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dy">[B, H].</param>
    /// <param name="dhRec">[B, H].</param>
    /// <param name="acts">[B, 4H].</param>
    /// <param name="hPrev">[B, H].</param>
    /// <param name="dgatesX">[B, 3H].</param>
    /// <param name="dgatesH">[B, 3H].</param>
    /// <param name="dhPrev">[B, H].</param>
    protected abstract void GruCellBackwardCore(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> acts, BufferSlice<T> hPrev,
        BufferSlice<T> dgatesX, BufferSlice<T> dgatesH, BufferSlice<T> dhPrev);

    /// <summary><see cref="RnnCellForward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="xproj">[B, H].</param>
    /// <param name="hproj">[B, H].</param>
    /// <param name="biasIh">[H], or null.</param>
    /// <param name="biasHh">[H], or null.</param>
    /// <param name="h">[B, H].</param>
    protected abstract void RnnCellForwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> xproj, BufferSlice<T> hproj,
        BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, BufferSlice<T> h);

    /// <summary><see cref="RnnCellBackward"/> with checked arguments.</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="relu">True for ReLU, false for tanh.</param>
    /// <param name="dy">[B, H].</param>
    /// <param name="dhRec">[B, H].</param>
    /// <param name="h">[B, H].</param>
    /// <param name="dgates">[B, H].</param>
    protected abstract void RnnCellBackwardCore(
        int batch, int hidden, bool relu, BufferSlice<T> dy, BufferSlice<T> dhRec,
        BufferSlice<T> h, BufferSlice<T> dgates);

    /// <summary>B·H, after checking that neither is negative.</summary>
    private static long CellSize(int batch, int hidden, string op) =>
        batch < 0 || hidden < 0
            ? throw new LstmException($"{op}: negative size B={batch}, H={hidden}")
            : (long)batch * hidden;

    /// <summary>Both biases' lengths, when both are given (one alone is ignored, as bias=False).</summary>
    private static void RequireBiases(BufferSlice<T>? biasIh, BufferSlice<T>? biasHh, long needed, string ih, string hh, string op)
    {
        if (biasIh is { } bi && biasHh is { } bh)
        {
            Require(bi, needed, ih, op);
            Require(bh, needed, hh, op);
        }
    }
}
