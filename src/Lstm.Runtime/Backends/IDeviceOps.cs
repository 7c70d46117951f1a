
namespace Lstm.Runtime.Backends;

/// <summary>
/// The operations a device provides for one element type. Layers and the time loop are written
/// once against this interface; each backend (ILGPU on CUDA, OpenCL or its CPU accelerator, and
/// the vectorized host code of the <c>cpu</c> device) implements it. Operations are issued in order on the device's stream; host reads synchronize.
/// </summary>
/// <remarks>
/// Dimension letters: B batch, T steps, I input size, H hidden size, G = 4H gate width.
/// All matrices are row-major.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public partial interface IDeviceOps<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> elements, zero-filled.</summary>
    /// <param name="length">Number of elements.</param>
    DeviceBuffer<T> Allocate(long length);

    /// <summary>
    /// Allocates <paramref name="length"/> elements whose values are unspecified, for a buffer the
    /// caller writes in full before it reads any of it (a GEMM's C with β = 0, a layer's output
    /// over all steps): a backend may skip the zero fill, which for a pass's large scratch costs
    /// a write of all its memory. Zero-filled unless the backend says otherwise.
    /// </summary>
    /// <param name="length">Number of elements.</param>
    DeviceBuffer<T> AllocateUninitialized(long length) => Allocate(length);

    /// <summary>Copies host data into a slice of the same length.</summary>
    /// <param name="source">Host data.</param>
    /// <param name="destination">Device slice.</param>
    void Upload(ReadOnlySpan<T> source, BufferSlice<T> destination);

    /// <summary>Copies a slice to host memory of the same length (waits for pending work).</summary>
    /// <param name="source">Device slice.</param>
    /// <param name="destination">Host memory.</param>
    void Download(BufferSlice<T> source, Span<T> destination);

    /// <summary>Copies one slice into another of the same length on the device.</summary>
    /// <param name="source">Source.</param>
    /// <param name="destination">Destination; must not overlap the source.</param>
    void Copy(BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary>Sets every element of a slice.</summary>
    /// <param name="destination">The slice.</param>
    /// <param name="value">The value.</param>
    void Fill(BufferSlice<T> destination, T value);

    /// <summary>C = α·op(A)·op(B) + β·C (see <see cref="Lstm.Kernels.Gemm.GemmShape"/> for the layout).</summary>
    /// <param name="shape">Sizes, strides and transposes.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C; 0 overwrites C without reading it.</param>
    /// <param name="c">C.</param>
    void Gemm(Lstm.Kernels.Gemm.GemmShape shape, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary>
    /// Some rows of a larger GEMM: C = α·A·op(B) + β·C where A and C are <paramref name="shape"/>.M
    /// consecutive rows of a product of <paramref name="wholeRows"/> rows with the same B, N and K.
    /// Each row comes out bit for bit as <see cref="Gemm"/> over the whole product computes it
    /// (a backend whose kernel depends on M picks it by <paramref name="wholeRows"/>), so a product
    /// can be issued block by block (the wavefront over layers) with the results of one call.
    /// </summary>
    /// <param name="shape">Sizes, strides and transposes of the part; op(A) must be A (rows contiguous).</param>
    /// <param name="wholeRows">M of the whole product (≥ shape.M).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">The part's rows of A.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="beta">Scale of the old C; 0 overwrites C without reading it.</param>
    /// <param name="c">The part's rows of C.</param>
    /// <exception cref="LstmException">op(A) is transposed, or wholeRows is smaller than the part.</exception>
    void GemmRows(Lstm.Kernels.Gemm.GemmShape shape, int wholeRows, T alpha, BufferSlice<T> a, BufferSlice<T> b, T beta, BufferSlice<T> c);

    /// <summary>
    /// One LSTM forward step (the fused pointwise kernel): see
    /// <see cref="Lstm.Kernels.Cells.LstmCellKernels"/>. <paramref name="acts"/> null selects the
    /// inference variant, which stores nothing.
    /// </summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="xproj">[B, 4H].</param>
    /// <param name="hproj">[B, 4H].</param>
    /// <param name="biasIh">[4H], or null for bias=False.</param>
    /// <param name="biasHh">[4H], or null for bias=False.</param>
    /// <param name="cPrev">[B, H].</param>
    /// <param name="c">[B, H], may be cPrev.</param>
    /// <param name="h">[B, H].</param>
    /// <param name="acts">[B, 4H] (training) or null (inference).</param>
    void LstmCellForward(
        int batch, int hidden, BufferSlice<T> xproj, BufferSlice<T> hproj, BufferSlice<T>? biasIh, BufferSlice<T>? biasHh,
        BufferSlice<T> cPrev, BufferSlice<T> c, BufferSlice<T> h, BufferSlice<T>? acts);

    /// <summary>One LSTM backward step (the fused pointwise-backward kernel).</summary>
    /// <param name="batch">B.</param>
    /// <param name="hidden">H.</param>
    /// <param name="dy">[B, H] gradient of h_t from the layer above (or the loss).</param>
    /// <param name="dhRec">[B, H] gradient of h_t through step t+1 (h_n's at the last step).</param>
    /// <param name="dc">[B, H] in: gradient of c_t; out: gradient of c_{t-1}.</param>
    /// <param name="acts">[B, 4H] stored activations of step t.</param>
    /// <param name="c">[B, H] c_t.</param>
    /// <param name="cPrev">[B, H] c_{t-1}.</param>
    /// <param name="dgates">[B, 4H] out: gradient of the gate pre-activations.</param>
    void LstmCellBackward(
        int batch, int hidden, BufferSlice<T> dy, BufferSlice<T> dhRec, BufferSlice<T> dc, BufferSlice<T> acts,
        BufferSlice<T> c, BufferSlice<T> cPrev, BufferSlice<T> dgates);

    /// <summary>dst[j] = β·dst[j] + Σ_r src[r, j] (bias gradients).</summary>
    /// <param name="rows">Rows of src.</param>
    /// <param name="cols">Columns of src.</param>
    /// <param name="source">[rows, cols].</param>
    /// <param name="beta">0 to overwrite, 1 to accumulate.</param>
    /// <param name="destination">[cols].</param>
    void SumRows(int rows, int cols, BufferSlice<T> source, T beta, BufferSlice<T> destination);

    /// <summary>Swaps the first two axes: [d0, d1, d2] → [d1, d0, d2].</summary>
    /// <param name="d0">First axis of the source.</param>
    /// <param name="d1">Second axis of the source.</param>
    /// <param name="d2">Last axis.</param>
    /// <param name="source">[d0, d1, d2].</param>
    /// <param name="destination">[d1, d0, d2], not overlapping the source.</param>
    void SwapAxes01(int d0, int d1, int d2, BufferSlice<T> source, BufferSlice<T> destination);

    /// <summary>Adds bias[j] to every row of y ([rows, cols]).</summary>
    /// <param name="cols">Columns.</param>
    /// <param name="y">[rows, cols], updated.</param>
    /// <param name="bias">[cols].</param>
    void AddRowBias(int cols, BufferSlice<T> y, BufferSlice<T> bias);

    /// <summary>y += α·x.</summary>
    /// <param name="alpha">α.</param>
    /// <param name="x">Source.</param>
    /// <param name="y">Updated.</param>
    void Axpy(T alpha, BufferSlice<T> x, BufferSlice<T> y);

    /// <summary>Waits until all issued work has finished.</summary>
    void Synchronize();
}
