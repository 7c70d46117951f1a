using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>PyTorch's LSTM cell (gate order i, f, g, o) over <see cref="ILstmCellOps{T}.LstmCellForward"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class LstmCell<T> : IRecurrentCell<T> where T : unmanaged
{
    public static readonly LstmCell<T> Instance = new();

    public string Name => "LSTM";

    public int Gates => 4;

    public bool HasCellState => true;

    public int ActsPerHidden => 4;

    public bool SeparateHiddenGradient => false;

    public void Forward(IDeviceOps<T> ops, int batch, int hidden, in CellForwardStep<T> s) =>
        ops.LstmCellForward(batch, hidden, s.XProj, s.HProj, s.BiasIh, s.BiasHh, s.CPrev, s.C, s.H, s.Acts);

    public void Backward(IDeviceOps<T> ops, int batch, int hidden, in CellBackwardStep<T> s) =>
        ops.LstmCellBackward(batch, hidden, s.Dy, s.DhRec, s.Dc, s.Acts, s.C, s.CPrev, s.DGatesX);
}
