using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>PyTorch's Elman RNN cell, h = act(x W_ih^T + b_ih + h W_hh^T + b_hh), over <see cref="IRnnCellOps{T}.RnnCellForward"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class RnnCell<T>(bool relu) : IRecurrentCell<T> where T : unmanaged
{
    public string Name => "RNN";

    /// <summary>True for ReLU, false for tanh.</summary>
    public bool Relu => relu;

    public int Gates => 1;

    public bool HasCellState => false;

    public int ActsPerHidden => 0;

    public bool SeparateHiddenGradient => false;

    public void Forward(IDeviceOps<T> ops, int batch, int hidden, in CellForwardStep<T> s) =>
        ops.RnnCellForward(batch, hidden, relu, s.XProj, s.HProj, s.BiasIh, s.BiasHh, s.H);

    public void Backward(IDeviceOps<T> ops, int batch, int hidden, in CellBackwardStep<T> s) =>
        ops.RnnCellBackward(batch, hidden, relu, s.Dy, s.DhRec, s.H, s.DGatesX);
}
