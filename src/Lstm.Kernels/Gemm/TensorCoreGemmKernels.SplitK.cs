using ILGPU;
using ILGPU.Runtime;

namespace Lstm.Kernels.Gemm;

/// <content>
/// The partial products of <see cref="SplitKGemmKernels"/> on tensor cores: slice s (the grid's
/// z index) of K run by the same block kernel as a whole product, on views moved to the slice's
/// first k, into W[s] with α = 1, β = 0.
/// </content>
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Slice s's TF32 partial product into W[s] (see <see cref="SplitKGemmKernels"/>).</summary>
    /// <remarks>Launch with <see cref="PartialConfig"/>.</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="w">The workspace, at least S·M·N.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="sliceK">k per slice.</param>
    public static void Tf32Partial(ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int sliceK) =>
        Partial<Tf32Math>(a, b, w, shape, sliceK);

    /// <summary>Slice s's 3xTF32 partial product into W[s] (see <see cref="SplitKGemmKernels"/>).</summary>
    /// <remarks>Launch with <see cref="PartialConfig"/>.</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="w">The workspace, at least S·M·N.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="sliceK">k per slice.</param>
    public static void ThreeTf32Partial(ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int sliceK) =>
        Partial<ThreeTf32Math>(a, b, w, shape, sliceK);

    /// <summary>Slice s's BF16 partial product into W[s] (see <see cref="SplitKGemmKernels"/>).</summary>
    /// <remarks>Launch with <see cref="PartialConfig"/>.</remarks>
    /// <param name="a">A as stored.</param>
    /// <param name="b">B as stored.</param>
    /// <param name="w">The workspace, at least S·M·N.</param>
    /// <param name="shape">The whole product.</param>
    /// <param name="sliceK">k per slice.</param>
    public static void Bf16Partial(ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int sliceK) =>
        Partial<Bf16Math>(a, b, w, shape, sliceK);

    /// <summary>The partial kernel of a reduced precision; launch it with <see cref="PartialConfig"/>.</summary>
    /// <param name="precision">TF32, 3xTF32 or BF16.</param>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int> PartialKernel(GemmRounding precision) => precision switch
    {
        GemmRounding.Tf32 => Tf32Partial,
        GemmRounding.ThreeTf32 => ThreeTf32Partial,
        GemmRounding.Bf16 => Bf16Partial,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "FP32 has no tensor-core kernel"),
    };

    /// <summary>The launch configuration of the partial kernels: <see cref="Config"/>'s grid times the slices along z.</summary>
    /// <param name="shape">The whole product.</param>
    /// <param name="slices">S.</param>
    public static KernelConfig PartialConfig(GemmShape shape, int slices) =>
        new(
            new Index3D((shape.N + BlockN - 1) / BlockN, (shape.M + BlockM - 1) / BlockM, slices),
            new Index3D(GroupSize, 1, 1));

    private static void Partial<TMath>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> w, GemmShape shape, int sliceK)
        where TMath : struct, ITensorCoreMath
    {
        int s = Grid.IdxZ;
        int k0 = s * sliceK;
        Run<TMath>(
            SplitKGemmKernels.SliceA(a, shape, k0),
            SplitKGemmKernels.SliceB(b, shape, k0),
            SplitKGemmKernels.SliceW(w, shape, s),
            SplitKGemmKernels.SliceShape(shape, k0, sliceK),
            1f,
            0f);
    }
}
