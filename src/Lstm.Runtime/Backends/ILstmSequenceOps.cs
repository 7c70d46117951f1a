namespace Lstm.Runtime.Backends;

/// <summary>
/// The operands of one LSTM direction's whole forward time loop: for each step t, in time order or
/// reversed, hproj = h_{t-1} W_hhᵀ, then the fused cell of <see cref="ILstmCellOps{T}.LstmCellForward"/>
/// (and with a projection h_t = (o ⊙ tanh c_t) W_hrᵀ), each on the step's active rows.
/// </summary>
/// <remarks>
/// H_out is <see cref="Proj"/> when it is above 0, else H. Variable lengths (<see cref="Active"/>):
/// the rows are sorted by length, longest first, and step t runs its first n_t rows only, as
/// PyTorch runs a packed sequence: a row past its length writes nothing (its output stays as it
/// was, zero, and its state is that of its own last step); forward every row begins at t = 0 from
/// h0, c0, in reverse each row begins at its own last step.
/// </remarks>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Reverse">True: steps T-1 … 0 (the reverse direction), h_{t+1} feeding step t.</param>
/// <param name="XProj">[T, B, 4H] x_t W_ihᵀ of every step, without bias.</param>
/// <param name="WeightHh">[4H, H_out].</param>
/// <param name="BiasIh">[4H], or null for bias=False.</param>
/// <param name="BiasHh">[4H], or null for bias=False.</param>
/// <param name="H0">[B, H_out] the state before the first step walked.</param>
/// <param name="C0">[B, H].</param>
/// <param name="Output">[T, B, H_out] out: h_t of every step.</param>
/// <param name="Cells">
/// [T, B, H] out: c_t of every step when <paramref name="StoreCells"/>; else [2, B, H], the c of
/// the s-th step walked (s = 0, 1, …) in half s mod 2.
/// </param>
/// <param name="StoreCells">Whether <paramref name="Cells"/> holds every step.</param>
/// <param name="Acts">[T, B, 4H] out: the activations of every step (training), or null (inference).</param>
/// <param name="HProj">[B, 4H] scratch.</param>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct LstmSequenceForward<T>(
    int Steps, int Batch, int Hidden, bool Reverse,
    BufferSlice<T> XProj, BufferSlice<T> WeightHh, BufferSlice<T>? BiasIh, BufferSlice<T>? BiasHh,
    BufferSlice<T> H0, BufferSlice<T> C0, BufferSlice<T> Output, BufferSlice<T> Cells, bool StoreCells,
    BufferSlice<T>? Acts, BufferSlice<T> HProj)
    where T : unmanaged
{
    /// <summary>P: PyTorch's proj_size (0 &lt; P &lt; H), or 0 for no projection.</summary>
    public int Proj { get; init; }

    /// <summary>W_hr [P, H] when <see cref="Proj"/> &gt; 0.</summary>
    public BufferSlice<T>? WeightHr { get; init; }

    /// <summary>
    /// When <see cref="Proj"/> &gt; 0, out: o ⊙ tanh(c_t) before the projection, [T, B, H] of every
    /// step when training (<see cref="Acts"/> given), else [B, H] rewritten each step.
    /// </summary>
    public BufferSlice<T>? HRaw { get; init; }

    /// <summary>n_t for each step t: the rows active at t, the rows sorted by length; null when every row runs every step.</summary>
    public IReadOnlyList<int>? Active { get; init; }
}

/// <summary>
/// The operands of one LSTM direction's whole backward time loop (the forward's shape and
/// conditions, <see cref="LstmSequenceForward{T}"/>), from its last step walked back to its first:
/// for each step the fused cell backward of <see cref="ILstmCellOps{T}.LstmCellBackward"/> with
/// dhRec (with a projection: dh_t = dy_t + dhRec kept in <see cref="DhSum"/>, then dh_t W_hr as the
/// cell's dy), then dh_{t-1} = dgates_t W_hh, each on the step's active rows.
/// </summary>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Reverse">As in the forward: true for the reverse direction.</param>
/// <param name="Dy">[T, B, H_out] the gradient of each step's output from above.</param>
/// <param name="WeightHh">[4H, H_out].</param>
/// <param name="Acts">[T, B, 4H] the forward's activations.</param>
/// <param name="Cells">[T, B, H] the forward's c_t.</param>
/// <param name="C0">[B, H] the c before the first step.</param>
/// <param name="DhRec">[B, H_out] in: the gradient of h at the last step (h_n's); out: that of h0 (rows of length ≥ 1).</param>
/// <param name="Dc">[B, H] in: the gradient of c_n; out: that of c0 (rows of length ≥ 1).</param>
/// <param name="DGates">[T, B, 4H] out: the gate gradients of every step's active rows.</param>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct LstmSequenceBackward<T>(
    int Steps, int Batch, int Hidden, bool Reverse,
    BufferSlice<T> Dy, BufferSlice<T> WeightHh, BufferSlice<T> Acts, BufferSlice<T> Cells, BufferSlice<T> C0,
    BufferSlice<T> DhRec, BufferSlice<T> Dc, BufferSlice<T> DGates)
    where T : unmanaged
{
    /// <summary>P: PyTorch's proj_size (0 &lt; P &lt; H), or 0 for no projection.</summary>
    public int Proj { get; init; }

    /// <summary>W_hr [P, H] when <see cref="Proj"/> &gt; 0.</summary>
    public BufferSlice<T>? WeightHr { get; init; }

    /// <summary>When <see cref="Proj"/> &gt; 0, [T, B, P] out: dy_t + dhRec of every step's active rows (for dW_hr).</summary>
    public BufferSlice<T>? DhSum { get; init; }

    /// <summary>n_t for each step t, as in the forward; null when every row runs every step.</summary>
    public IReadOnlyList<int>? Active { get; init; }
}

/// <summary>
/// Devices that run an LSTM direction's whole time loop in one operation (the <c>cpu</c> device:
/// the cores stay inside the loop, each on its own share of the hidden units and of W_hh, and meet
/// once per step; ILGPU: one persistent launch), with results equal bit for bit to the loop of
/// per-step operations. A device may take only some shapes (the <c>cpu</c> device: no projection,
/// every row as long as the sequence).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal interface ILstmSequenceOps<T> where T : unmanaged
{
    /// <summary>Runs the forward loop; false (nothing written) when this device does not take these operands.</summary>
    /// <param name="args">The operands.</param>
    bool TryLstmSequenceForward(in LstmSequenceForward<T> args);

    /// <summary>Runs the backward loop; false (nothing written) when this device does not take these operands.</summary>
    /// <param name="args">The operands.</param>
    bool TryLstmSequenceBackward(in LstmSequenceBackward<T> args);

    /// <summary>
    /// Whether <see cref="TryLstmSequenceForward"/> (or, with <paramref name="backward"/>,
    /// <see cref="TryLstmSequenceBackward"/>) would take a loop of this shape, answered from the
    /// device's rules without running anything (the schedule asks before it picks the lanes of a
    /// pass). True does not promise the run: a loop may still step aside at run time (a grid whose
    /// barrier times out), and the caller then runs the step loop.
    /// </summary>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="proj">P, or 0 for no projection.</param>
    /// <param name="ragged">Whether some row is shorter than the sequence (<see cref="LstmSequenceForward{T}.Active"/> given).</param>
    /// <param name="backward">False: the forward loop; true: the backward loop.</param>
    bool CanRunLstmSequence(int steps, int batch, int hidden, int proj, bool ragged, bool backward);
}

/// <summary>The cells whose whole forward and backward loops <see cref="IRecurrentSequenceOps{T}"/> runs.</summary>
internal enum RecurrentCellKind
{
    /// <summary>PyTorch's GRU, gate order r, z, n.</summary>
    Gru,

    /// <summary>The Elman RNN with tanh.</summary>
    RnnTanh,

    /// <summary>The Elman RNN with ReLU.</summary>
    RnnRelu,
}

/// <summary>
/// The operands of one GRU or RNN direction's whole forward time loop: for each step t,
/// hproj = h_{t-1} W_hhᵀ, then the cell's fused step, each on the step's active rows.
/// </summary>
/// <remarks>
/// Variable lengths (<see cref="Active"/>) as <see cref="LstmSequenceForward{T}"/> takes them: the rows
/// sorted by length, longest first, step t runs its first n_t rows only, a row past its length writes
/// nothing (its output stays zero); forward every row begins at t = 0 from h0, in reverse each row
/// begins at its own last step.
/// </remarks>
/// <param name="Cell">The cell.</param>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Reverse">True: steps T-1 … 0, h_{t+1} feeding step t.</param>
/// <param name="XProj">[T, B, G·H] x_t W_ihᵀ of every step, without bias (G = 3 for the GRU, 1 for the RNN).</param>
/// <param name="WeightHh">[G·H, H].</param>
/// <param name="BiasIh">[G·H], or null for bias=False.</param>
/// <param name="BiasHh">[G·H], or null for bias=False.</param>
/// <param name="H0">[B, H] the state before the first step walked.</param>
/// <param name="Output">[T, B, H] out: h_t of every step's active rows.</param>
/// <param name="Acts">GRU, training: [T, B, 4H] out, r, z, n, hn of every step's active rows; else null.</param>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct RecurrentSequenceForward<T>(
    RecurrentCellKind Cell, int Steps, int Batch, int Hidden, bool Reverse,
    BufferSlice<T> XProj, BufferSlice<T> WeightHh, BufferSlice<T>? BiasIh, BufferSlice<T>? BiasHh,
    BufferSlice<T> H0, BufferSlice<T> Output, BufferSlice<T>? Acts)
    where T : unmanaged
{
    /// <summary>n_t for each step t: the rows active at t, the rows sorted by length; null when every row runs every step.</summary>
    public IReadOnlyList<int>? Active { get; init; }
}

/// <summary>
/// The operands of one GRU or RNN direction's whole backward time loop (the forward's shape and
/// conditions), from its last step walked back to its first: for each step the cell's fused backward
/// step (<see cref="IGruCellOps{T}.GruCellBackward"/>, <see cref="IRnnCellOps{T}.RnnCellBackward"/>)
/// with dhRec, then dh_{t-1} (+)= dgatesH_t W_hh, as the step loop computes them, each on the step's
/// active rows (<see cref="Active"/>, as in the forward).
/// </summary>
/// <param name="Cell">The cell.</param>
/// <param name="Steps">T ≥ 1.</param>
/// <param name="Batch">B ≥ 1.</param>
/// <param name="Hidden">H ≥ 1.</param>
/// <param name="Reverse">As in the forward: true for the reverse direction.</param>
/// <param name="Dy">[T, B, H] the gradient of each step's output from above.</param>
/// <param name="WeightHh">[G·H, H].</param>
/// <param name="Acts">GRU: [T, B, 4H] the forward's r, z, n, hn; RNN: null (its backward reads h_t).</param>
/// <param name="Output">[T, B, H] the forward's h_t.</param>
/// <param name="H0">[B, H] the h before the first step.</param>
/// <param name="DhRec">[B, H] in: the gradient of h at the last step (h_n's); out: that of h0 (rows of length ≥ 1).</param>
/// <param name="DGates">[T, B, G·H] out: the gate gradients of every step's active rows (GRU: of xproj and b_ih).</param>
/// <param name="DGatesH">GRU: [T, B, 3H] out, the gradients of hproj and b_hh of every step's active rows; RNN: unread (its DGates serve both).</param>
/// <typeparam name="T">float or double.</typeparam>
internal readonly record struct RecurrentSequenceBackward<T>(
    RecurrentCellKind Cell, int Steps, int Batch, int Hidden, bool Reverse,
    BufferSlice<T> Dy, BufferSlice<T> WeightHh, BufferSlice<T>? Acts, BufferSlice<T> Output, BufferSlice<T> H0,
    BufferSlice<T> DhRec, BufferSlice<T> DGates, BufferSlice<T> DGatesH)
    where T : unmanaged
{
    /// <summary>n_t for each step t, as in the forward; null when every row runs every step.</summary>
    public IReadOnlyList<int>? Active { get; init; }
}

/// <summary>
/// Devices that run a GRU or RNN direction's whole forward and backward loops in one operation each,
/// with results equal bit for bit to the loop of per-step operations (ILGPU: one persistent launch).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal interface IRecurrentSequenceOps<T> where T : unmanaged
{
    /// <summary>Runs the forward loop; false when this device does not take these operands or the loop stepped aside (the caller runs the step loop, which rewrites every output).</summary>
    /// <param name="args">The operands.</param>
    bool TryRecurrentSequenceForward(in RecurrentSequenceForward<T> args);

    /// <summary>
    /// Runs the backward loop; false when this device does not take these operands or the loop
    /// stepped aside (then DhRec is as it came in and the caller runs the step loop, which rewrites
    /// every step's gate gradients).
    /// </summary>
    /// <param name="args">The operands.</param>
    bool TryRecurrentSequenceBackward(in RecurrentSequenceBackward<T> args);

    /// <summary>
    /// Whether <see cref="TryRecurrentSequenceForward"/> (or, with <paramref name="backward"/>,
    /// <see cref="TryRecurrentSequenceBackward"/>) would take a loop of this shape (as <see cref="ILstmSequenceOps{T}.CanRunLstmSequence"/>).
    /// </summary>
    /// <param name="cell">The cell.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="backward">False: the forward loop; true: the backward loop.</param>
    bool CanRunRecurrentSequence(RecurrentCellKind cell, int steps, int batch, int hidden, bool backward);
}
