namespace Lstm.Runtime.Backends;

/// <summary>
/// The operations a device provides for one element type: every focused interface together.
/// Layers and the time loop are written once against it; each backend (ILGPU on CUDA, OpenCL or
/// its CPU accelerator, and the vectorized host code of the <c>cpu</c> device) implements it over
/// <see cref="DeviceOps{T}"/>, which checks every call's arguments the same way on every device.
/// Operations are issued in order on the device's stream; host reads synchronize.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, G = 4H gate width.
/// All matrices are row-major. A new cell adds its own interface (as <see cref="IGruCellOps{T}"/>)
/// to the list below.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public interface IDeviceOps<T> :
    IMemoryOps<T>, IGemmOps<T>, ILstmCellOps<T>, IGruCellOps<T>, IRnnCellOps<T>,
    IElementwiseOps<T>, ILossOps<T>, IOptimizerOps<T>, IGatherOps<T>, IAttentionOps<T>
    where T : unmanaged
{
}
