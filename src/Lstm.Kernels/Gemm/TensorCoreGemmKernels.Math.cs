using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Lstm.Kernels.Gemm;

/// <content>
/// The arithmetic of each precision: fragment loads from the staged tiles, the mma on tensor
/// cores, and its emulation by warp shuffles where there are none (ILGPU's CPU accelerator).
/// </content>
internal static partial class TensorCoreGemmKernels
{
    /// <summary>Element i of lane's TF32 A fragment of the m16n8k8 tile at (row, k) of a staged A tile.</summary>
    private static float Tf32A(ArrayView<float> tile, int row, int k, int lane, int i) =>
        ATile(tile, row + MmaLayout.Tf32ARow(lane, i), k + MmaLayout.Tf32ACol(lane, i));

    /// <summary>Element i of lane's TF32 B fragment of the m16n8k8 tile at (k, col) of a staged B tile.</summary>
    private static float Tf32B(ArrayView<float> tile, int k, int col, int lane, int i) =>
        BTile(tile, k + MmaLayout.Tf32BRow(lane, i), col + MmaLayout.Tf32BCol(lane, i));

    private readonly struct Tf32Math : ITensorCoreMath
    {
        public int KStep => MmaLayout.KTf32;

        public AFragment LoadA(ArrayView<float> tile, int row, int k, int lane) => new()
        {
            H0 = Tf32Bits(Tf32A(tile, row, k, lane, 0)),
            H1 = Tf32Bits(Tf32A(tile, row, k, lane, 1)),
            H2 = Tf32Bits(Tf32A(tile, row, k, lane, 2)),
            H3 = Tf32Bits(Tf32A(tile, row, k, lane, 3)),
        };

        public BFragment LoadB(ArrayView<float> tile, int k, int col, int lane) => new()
        {
            H0 = Tf32Bits(Tf32B(tile, k, col, lane, 0)),
            H1 = Tf32Bits(Tf32B(tile, k, col, lane, 1)),
        };

        public Accumulator Mma(Accumulator c, AFragment a, BFragment b, int tile)
        {
            if (!CudaAsm.IsSupported)
                return EmulatedTf32(c, a, b, three: false);
            HardwareMma(tile, false, a.H0, a.H1, a.H2, a.H3, b.H0, b.H1);
            return c;
        }
    }

    private readonly struct ThreeTf32Math : ITensorCoreMath
    {
        public int KStep => MmaLayout.KTf32;

        public AFragment LoadA(ArrayView<float> tile, int row, int k, int lane)
        {
            var x0 = ReducedPrecision.SplitTf32(Tf32A(tile, row, k, lane, 0));
            var x1 = ReducedPrecision.SplitTf32(Tf32A(tile, row, k, lane, 1));
            var x2 = ReducedPrecision.SplitTf32(Tf32A(tile, row, k, lane, 2));
            var x3 = ReducedPrecision.SplitTf32(Tf32A(tile, row, k, lane, 3));
            return new AFragment
            {
                H0 = Interop.FloatAsInt(x0.Hi), H1 = Interop.FloatAsInt(x1.Hi), H2 = Interop.FloatAsInt(x2.Hi), H3 = Interop.FloatAsInt(x3.Hi),
                L0 = Interop.FloatAsInt(x0.Lo), L1 = Interop.FloatAsInt(x1.Lo), L2 = Interop.FloatAsInt(x2.Lo), L3 = Interop.FloatAsInt(x3.Lo),
            };
        }

        public BFragment LoadB(ArrayView<float> tile, int k, int col, int lane)
        {
            var y0 = ReducedPrecision.SplitTf32(Tf32B(tile, k, col, lane, 0));
            var y1 = ReducedPrecision.SplitTf32(Tf32B(tile, k, col, lane, 1));
            return new BFragment
            {
                H0 = Interop.FloatAsInt(y0.Hi), H1 = Interop.FloatAsInt(y1.Hi),
                L0 = Interop.FloatAsInt(y0.Lo), L1 = Interop.FloatAsInt(y1.Lo),
            };
        }

        public Accumulator Mma(Accumulator c, AFragment a, BFragment b, int tile)
        {
            if (!CudaAsm.IsSupported)
                return EmulatedTf32(c, a, b, three: true);

            // Small terms first, as the emulation sums them.
            HardwareMma(tile, false, a.L0, a.L1, a.L2, a.L3, b.H0, b.H1);
            HardwareMma(tile, false, a.H0, a.H1, a.H2, a.H3, b.L0, b.L1);
            HardwareMma(tile, false, a.H0, a.H1, a.H2, a.H3, b.H0, b.H1);
            return c;
        }
    }

    private readonly struct Bf16Math : ITensorCoreMath
    {
        public int KStep => MmaLayout.KBf16;

        private static float A(ArrayView<float> tile, int row, int k, int lane, int i) =>
            ATile(tile, row + MmaLayout.Bf16ARow(lane, i), k + MmaLayout.Bf16ACol(lane, i));

        private static float B(ArrayView<float> tile, int k, int col, int lane, int i) =>
            BTile(tile, k + MmaLayout.Bf16BRow(lane, i), col + MmaLayout.Bf16BCol(lane, i));

        public AFragment LoadA(ArrayView<float> tile, int row, int k, int lane) => new()
        {
            H0 = Bf16Pair(A(tile, row, k, lane, 0), A(tile, row, k, lane, 1)),
            H1 = Bf16Pair(A(tile, row, k, lane, 2), A(tile, row, k, lane, 3)),
            H2 = Bf16Pair(A(tile, row, k, lane, 4), A(tile, row, k, lane, 5)),
            H3 = Bf16Pair(A(tile, row, k, lane, 6), A(tile, row, k, lane, 7)),
        };

        public BFragment LoadB(ArrayView<float> tile, int k, int col, int lane) => new()
        {
            H0 = Bf16Pair(B(tile, k, col, lane, 0), B(tile, k, col, lane, 1)),
            H1 = Bf16Pair(B(tile, k, col, lane, 2), B(tile, k, col, lane, 3)),
        };

        public Accumulator Mma(Accumulator c, AFragment a, BFragment b, int tile)
        {
            if (!CudaAsm.IsSupported)
                return EmulatedBf16(c, a, b);
            HardwareMma(tile, true, a.H0, a.H1, a.H2, a.H3, b.H0, b.H1);
            return c;
        }
    }

    /// <summary>
    /// m16n8k8 on TF32 fragments without tensor cores. Lane l's accumulators are rows
    /// CRow(l, 0) (c0, c1) and CRow(l, 2) (c2, c3), columns CCol(l, 0) (c0, c2) and CCol(l, 1)
    /// (c1, c3); for each k it fetches those rows of A and columns of B from their owner lanes
    /// (the register index is the same on every lane, as a shuffle needs) and adds the exact
    /// products in k order. For 3xTF32, per k: lo_a·hi_b, then hi_a·lo_b, then hi_a·hi_b.
    /// </summary>
    private static Accumulator EmulatedTf32(Accumulator c, AFragment a, BFragment b, bool three)
    {
        int lane = Warp.LaneIdx;
        int top = MmaLayout.CRow(lane, 0);
        int bottom = MmaLayout.CRow(lane, 2);
        int left = MmaLayout.CCol(lane, 0);
        int right = MmaLayout.CCol(lane, 1);
        float c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        for (int k = 0; k < MmaLayout.KTf32; k++)
        {
            int eTop = MmaLayout.Tf32AOwnerElement(top, k);
            int eBottom = MmaLayout.Tf32AOwnerElement(bottom, k);
            int eB = MmaLayout.Tf32BOwnerElement(k, left);
            int lTop = MmaLayout.Tf32AOwnerLane(top, k);
            int lBottom = MmaLayout.Tf32AOwnerLane(bottom, k);
            int lLeft = MmaLayout.Tf32BOwnerLane(k, left);
            int lRight = MmaLayout.Tf32BOwnerLane(k, right);
            float aTop = Shuffled(a.Hi(eTop), lTop);
            float aBottom = Shuffled(a.Hi(eBottom), lBottom);
            float bLeft = Shuffled(b.Hi(eB), lLeft);
            float bRight = Shuffled(b.Hi(eB), lRight);
            if (three)
            {
                float aTopLo = Shuffled(a.Lo(eTop), lTop);
                float aBottomLo = Shuffled(a.Lo(eBottom), lBottom);
                float bLeftLo = Shuffled(b.Lo(eB), lLeft);
                float bRightLo = Shuffled(b.Lo(eB), lRight);
                c0 += aTopLo * bLeft;
                c0 += aTop * bLeftLo;
                c1 += aTopLo * bRight;
                c1 += aTop * bRightLo;
                c2 += aBottomLo * bLeft;
                c2 += aBottom * bLeftLo;
                c3 += aBottomLo * bRight;
                c3 += aBottom * bRightLo;
            }

            c0 += aTop * bLeft;
            c1 += aTop * bRight;
            c2 += aBottom * bLeft;
            c3 += aBottom * bRight;
        }

        return new Accumulator { C0 = c0, C1 = c1, C2 = c2, C3 = c3 };
    }

    /// <summary>m16n8k16 on BF16 fragments without tensor cores (as <see cref="EmulatedTf32"/>, two elements to a register).</summary>
    private static Accumulator EmulatedBf16(Accumulator c, AFragment a, BFragment b)
    {
        int lane = Warp.LaneIdx;
        int top = MmaLayout.CRow(lane, 0);
        int bottom = MmaLayout.CRow(lane, 2);
        int left = MmaLayout.CCol(lane, 0);
        int right = MmaLayout.CCol(lane, 1);
        float c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        for (int k = 0; k < MmaLayout.KBf16; k++)
        {
            int eTop = MmaLayout.Bf16AOwnerElement(top, k);
            int eBottom = MmaLayout.Bf16AOwnerElement(bottom, k);
            int eB = MmaLayout.Bf16BOwnerElement(k, left);
            float aTop = Bf16Half(Warp.Shuffle(a.Hi(eTop >> 1), MmaLayout.Bf16AOwnerLane(top, k)), eTop & 1);
            float aBottom = Bf16Half(Warp.Shuffle(a.Hi(eBottom >> 1), MmaLayout.Bf16AOwnerLane(bottom, k)), eBottom & 1);
            float bLeft = Bf16Half(Warp.Shuffle(b.Hi(eB >> 1), MmaLayout.Bf16BOwnerLane(k, left)), eB & 1);
            float bRight = Bf16Half(Warp.Shuffle(b.Hi(eB >> 1), MmaLayout.Bf16BOwnerLane(k, right)), eB & 1);
            c0 += aTop * bLeft;
            c1 += aTop * bRight;
            c2 += aBottom * bLeft;
            c3 += aBottom * bRight;
        }

        return new Accumulator { C0 = c0, C1 = c1, C2 = c2, C3 = c3 };
    }
}
