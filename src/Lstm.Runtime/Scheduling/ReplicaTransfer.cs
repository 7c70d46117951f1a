using ILGPU;
using ILGPU.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Ilgpu;
using Lstm.Runtime.Devices;

namespace Lstm.Runtime.Scheduling;

/// <summary>How values travel between a replica and replica 0 of a <c>DataParallel</c>.</summary>
public enum ReplicaRoute
{
    /// <summary>Through host buffers: page-locked ones on ILGPU accelerators, plain arrays for <c>cpu</c>.</summary>
    Host,

    /// <summary>Device to device: two CUDA devices with peer access enabled both ways.</summary>
    PeerToPeer,
}

/// <summary>
/// The copies of a data-parallel step: the one choice of route (<see cref="Choose"/>) and the
/// copies each route makes between a device buffer and a host stage or another device.
/// </summary>
internal static class ReplicaTransfer
{
    /// <summary>
    /// The route between two replicas' devices: <see cref="ReplicaRoute.PeerToPeer"/> when both
    /// are CUDA devices that can reach each other's memory (peer access is enabled here both ways),
    /// else <see cref="ReplicaRoute.Host"/>. This is the one place the route is chosen.
    /// </summary>
    /// <param name="replica">The device of replica r.</param>
    /// <param name="primary">The device of replica 0.</param>
    public static ReplicaRoute Choose(ComputeDevice replica, ComputeDevice primary)
    {
        if (replica.Info.Kind != DeviceKind.Cuda || primary.Info.Kind != DeviceKind.Cuda)
            return ReplicaRoute.Host;
        var a = replica.Accelerator;
        var b = primary.Accelerator;
        if (!a.CanAccessPeer(b) || !b.CanAccessPeer(a))
            return ReplicaRoute.Host;
        a.EnableBidirectionalPeerAccess(b);
        return a.HasPeerAccess(b) && b.HasPeerAccess(a) ? ReplicaRoute.PeerToPeer : ReplicaRoute.Host;
    }

    /// <summary>Makes <paramref name="device"/> the current accelerator of the calling thread (CUDA binds a context per thread; a no-op for <c>cpu</c>).</summary>
    /// <param name="device">The device.</param>
    public static void Bind(ComputeDevice device)
    {
        if (device.IsIlgpu)
            device.Accelerator.Bind();
    }

    /// <summary>Copies a slice on one device into a slice of the same length on another (peer access enabled), on the destination's stream, and waits.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="from">The source's device (synchronized first).</param>
    /// <param name="source">The source.</param>
    /// <param name="to">The destination's device.</param>
    /// <param name="destination">The destination.</param>
    public static void CopyPeer<T>(ComputeDevice from, BufferSlice<T> source, ComputeDevice to, BufferSlice<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"peer copy of {source.Length} elements into a slice of {destination.Length}");
        from.Synchronize();
        if (source.Length == 0)
            return;
        var stream = to.Accelerator.DefaultStream;
        View(source).CopyTo(stream, View(destination));
        stream.Synchronize();
    }

    /// <summary>The ILGPU view of a slice of an ILGPU buffer.</summary>
    private static ArrayView1D<T, Stride1D.Dense> View<T>(BufferSlice<T> s) where T : unmanaged =>
        ((IlgpuBuffer<T>)s.Buffer).Memory.View.SubView(s.Offset, s.Length);

    /// <summary>A host buffer for one tensor of one replica: page-locked memory of the replica's accelerator where ILGPU offers it, else (and for <c>cpu</c>) a plain array.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    internal sealed class HostStage<T> : IDisposable where T : unmanaged
    {
        private readonly ComputeDevice _device;
        private readonly PageLockedArray1D<T>? _locked;
        private readonly T[]? _array;

        /// <summary>Allocates <paramref name="length"/> elements for <paramref name="device"/>.</summary>
        public HostStage(ComputeDevice device, long length)
        {
            _device = device;
            if (device.IsIlgpu)
            {
                try
                {
                    _locked = device.Accelerator.AllocatePageLocked1D<T>(length);
                }
                catch (NotSupportedException)
                {
                    // An accelerator that cannot page-lock host memory: a plain array through the device's own copies.
                }
            }

            _array = _locked is null ? new T[length] : null;
        }

        /// <summary>The host values.</summary>
        public Span<T> Span => _locked is { } l ? l.Span : _array.AsSpan();

        /// <summary>Whether the memory is page-locked.</summary>
        public bool PageLocked => _locked is not null;

        /// <summary>Copies a device slice of the same length into the stage (waits for the device's pending work).</summary>
        public void Download(BufferSlice<T> source)
        {
            if (_locked is { } l)
            {
                _device.Synchronize();
                if (source.Length == 0)
                    return;
                var stream = _device.Accelerator.DefaultStream;
                View(source).CopyToPageLockedAsync(stream, l);
                stream.Synchronize();
            }
            else
            {
                _device.Ops<T>().Download(source, _array!);
            }
        }

        /// <summary>Copies the stage into a device slice of the same length (done when this returns).</summary>
        public void Upload(BufferSlice<T> destination)
        {
            if (_locked is { } l)
            {
                _device.Synchronize();
                if (destination.Length == 0)
                    return;
                var stream = _device.Accelerator.DefaultStream;
                View(destination).CopyFromPageLockedAsync(stream, l);
                stream.Synchronize();
            }
            else
            {
                _device.Ops<T>().Upload(_array!, destination);
            }
        }

        /// <summary>Frees the page-locked memory.</summary>
        public void Dispose() => _locked?.Dispose();
    }
}
