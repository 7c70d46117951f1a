using Lstm.Runtime.Backends;

namespace Lstm.Runtime.Recurrent;

/// <summary>PyTorch's GRU cell (gate order r, z, n) over <see cref="IGruCellOps{T}.GruCellForward"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal sealed class GruCell<T> : IRecurrentCell<T> where T : unmanaged
{
    public static readonly GruCell<T> Instance = new();

    public string Name => "GRU";

    public int Gates => 3;

    public bool HasCellState => false;

    public int ActsPerHidden => 4;

    public bool SeparateHiddenGradient => true;

    public void Forward(IDeviceOps<T> ops, int batch, int hidden, in CellForwardStep<T> s) =>
        ops.GruCellForward(batch, hidden, s.XProj, s.HProj, s.BiasIh, s.BiasHh, s.HPrev, s.H, s.Acts);

    public void Backward(IDeviceOps<T> ops, int batch, int hidden, in CellBackwardStep<T> s) =>
        ops.GruCellBackward(batch, hidden, s.Dy, s.DhRec, s.Acts, s.HPrev, s.DGatesX, s.DGatesH, s.DhPrev);
}
