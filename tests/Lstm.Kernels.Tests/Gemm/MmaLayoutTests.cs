using Lstm.Kernels.Gemm;

namespace Lstm.Kernels.Tests.Gemm;

/// <summary>
/// The lane maps of <see cref="MmaLayout"/>, which the tensor-core kernels load and store their
/// fragments with, against the PTX ISA's fragment layouts ("Matrix Fragments for mma.m16n8k8",
/// ".tf32"; "mma.m16n8k16 with floating point type", ".bf16"), written out again here from the
/// ISA's text. A simulated warp loads A, B and C into 32 lanes' registers with the library's maps;
/// the simulated hardware reads those registers with the ISA's maps, multiplies, and hands D back
/// with the ISA's map; the library's map stores it. D must equal A·B + C.
/// </summary>
public sealed class MmaLayoutTests
{
    private const int Lanes = 32;

    /// <summary>One fragment layout: (lane, element) → (row, column).</summary>
    private delegate (int Row, int Col) Map(int lane, int i);

    // The ISA's formulas, groupID = lane >> 2, threadID_in_group = lane % 4.
    private static (int, int) IsaTf32A(int lane, int i) =>
        (i is 0 or 2 ? lane >> 2 : (lane >> 2) + 8, i < 2 ? lane % 4 : lane % 4 + 4);

    private static (int, int) IsaTf32B(int lane, int i) => (i == 0 ? lane % 4 : lane % 4 + 4, lane >> 2);

    private static (int, int) IsaBf16A(int lane, int i) =>
        (i is >= 0 and < 2 or >= 4 and < 6 ? lane >> 2 : (lane >> 2) + 8,
         i < 4 ? (lane % 4) * 2 + (i & 1) : (lane % 4) * 2 + (i & 1) + 8);

    private static (int, int) IsaBf16B(int lane, int i) => (i < 2 ? (lane % 4) * 2 + (i & 1) : (lane % 4) * 2 + (i & 1) + 8, lane >> 2);

    private static (int, int) IsaC(int lane, int i) => (i < 2 ? lane >> 2 : (lane >> 2) + 8, (lane % 4) * 2 + (i & 1));

    private static (int, int) LibTf32A(int lane, int i) => (MmaLayout.Tf32ARow(lane, i), MmaLayout.Tf32ACol(lane, i));

    private static (int, int) LibTf32B(int lane, int i) => (MmaLayout.Tf32BRow(lane, i), MmaLayout.Tf32BCol(lane, i));

    private static (int, int) LibBf16A(int lane, int i) => (MmaLayout.Bf16ARow(lane, i), MmaLayout.Bf16ACol(lane, i));

    private static (int, int) LibBf16B(int lane, int i) => (MmaLayout.Bf16BRow(lane, i), MmaLayout.Bf16BCol(lane, i));

    private static (int, int) LibC(int lane, int i) => (MmaLayout.CRow(lane, i), MmaLayout.CCol(lane, i));

    private static double[,] RandomIntegers(Random rng, int rows, int cols)
    {
        // Small integers: every product and sum is exact, so the comparison can be exact.
        var m = new double[rows, cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                m[r, c] = rng.Next(-8, 9);
        }

        return m;
    }

    /// <summary>Lane registers of a matrix loaded with a map (elements per lane = size / 32).</summary>
    private static double[,] Load(double[,] matrix, Map map)
    {
        int perLane = matrix.Length / Lanes;
        var regs = new double[Lanes, perLane];
        for (int lane = 0; lane < Lanes; lane++)
        {
            for (int i = 0; i < perLane; i++)
            {
                var (r, c) = map(lane, i);
                regs[lane, i] = matrix[r, c];
            }
        }

        return regs;
    }

    /// <summary>The matrix the registers hold under a map; every element must be held exactly once.</summary>
    private static double[,] Gather(double[,] regs, Map map, int rows, int cols)
    {
        var m = new double[rows, cols];
        var seen = new int[rows, cols];
        for (int lane = 0; lane < Lanes; lane++)
        {
            for (int i = 0; i < regs.GetLength(1); i++)
            {
                var (r, c) = map(lane, i);
                m[r, c] = regs[lane, i];
                seen[r, c]++;
            }
        }

        foreach (int n in seen)
            Assert.Equal(1, n);
        return m;
    }

    /// <summary>
    /// One warp's mma: fragments loaded and D stored with the library's maps, the product taken by
    /// the simulated hardware through the ISA's maps. Returns the stored D.
    /// </summary>
    private static double[,] SimulateWarp(double[,] a, double[,] b, double[,] c, Map libA, Map libB, Map isaA, Map isaB)
    {
        int m = a.GetLength(0), k = a.GetLength(1), n = b.GetLength(1);
        var aRegs = Load(a, libA);
        var bRegs = Load(b, libB);
        var cRegs = Load(c, LibC);

        // The hardware.
        var ha = Gather(aRegs, isaA, m, k);
        var hb = Gather(bRegs, isaB, k, n);
        var hc = Gather(cRegs, IsaC, m, n);
        var d = new double[m, n];
        for (int r = 0; r < m; r++)
        {
            for (int col = 0; col < n; col++)
            {
                double s = hc[r, col];
                for (int kk = 0; kk < k; kk++)
                    s += ha[r, kk] * hb[kk, col];
                d[r, col] = s;
            }
        }

        var dRegs = Load(d, IsaC);

        // The kernel's store.
        return Gather(dRegs, LibC, m, n);
    }

    private static double[,] Product(double[,] a, double[,] b, double[,] c)
    {
        var d = (double[,])c.Clone();
        for (int r = 0; r < a.GetLength(0); r++)
        {
            for (int col = 0; col < b.GetLength(1); col++)
            {
                for (int kk = 0; kk < a.GetLength(1); kk++)
                    d[r, col] += a[r, kk] * b[kk, col];
            }
        }

        return d;
    }

    [Theory]
    [InlineData(MmaLayout.KTf32)]
    [InlineData(MmaLayout.KBf16)]
    public void SimulatedWarp_WithTheKernelsLaneMaps_ComputesAPlainMatrixProduct(int k)
    {
        Map libA = k == MmaLayout.KTf32 ? LibTf32A : LibBf16A;
        Map libB = k == MmaLayout.KTf32 ? LibTf32B : LibBf16B;
        Map isaA = k == MmaLayout.KTf32 ? IsaTf32A : IsaBf16A;
        Map isaB = k == MmaLayout.KTf32 ? IsaTf32B : IsaBf16B;
        var rng = new Random(k);
        for (int trial = 0; trial < 20; trial++)
        {
            var a = RandomIntegers(rng, MmaLayout.M, k);
            var b = RandomIntegers(rng, k, MmaLayout.N);
            var c = RandomIntegers(rng, MmaLayout.M, MmaLayout.N);
            Assert.Equal(Product(a, b, c), SimulateWarp(a, b, c, libA, libB, isaA, isaB));
        }
    }

    [Fact]
    public void SimulatedWarp_CatchesAMapThatDiffersFromTheIsa()
    {
        // The test has teeth: the TF32 A map with a1 and a2 swapped (a plausible misreading of
        // the ISA's figure) is a permutation of A's elements too, but the product comes out wrong.
        (int, int) swapped(int lane, int i) => LibTf32A(lane, i == 1 ? 2 : i == 2 ? 1 : i);
        var rng = new Random(3);
        var a = RandomIntegers(rng, MmaLayout.M, MmaLayout.KTf32);
        var b = RandomIntegers(rng, MmaLayout.KTf32, MmaLayout.N);
        var c = RandomIntegers(rng, MmaLayout.M, MmaLayout.N);
        Assert.NotEqual(Product(a, b, c), SimulateWarp(a, b, c, swapped, LibTf32B, IsaTf32A, IsaTf32B));
    }

    [Fact]
    public void LaneMaps_EqualTheIsaFormulas_ElementByElement()
    {
        for (int lane = 0; lane < Lanes; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(IsaTf32A(lane, i), LibTf32A(lane, i));
                Assert.Equal(IsaC(lane, i), LibC(lane, i));
                Assert.Equal(IsaBf16B(lane, i), LibBf16B(lane, i));
            }

            for (int i = 0; i < 2; i++)
                Assert.Equal(IsaTf32B(lane, i), LibTf32B(lane, i));
            for (int i = 0; i < 8; i++)
                Assert.Equal(IsaBf16A(lane, i), LibBf16A(lane, i));
        }
    }

    [Fact]
    public void OwnerMaps_InvertTheLaneMaps()
    {
        // The emulated mma fetches A[row, k] from lane Owner(row, k), element OwnerElement(row, k).
        for (int row = 0; row < MmaLayout.M; row++)
        {
            for (int k = 0; k < MmaLayout.KTf32; k++)
                Assert.Equal((row, k), LibTf32A(MmaLayout.Tf32AOwnerLane(row, k), MmaLayout.Tf32AOwnerElement(row, k)));
            for (int k = 0; k < MmaLayout.KBf16; k++)
                Assert.Equal((row, k), LibBf16A(MmaLayout.Bf16AOwnerLane(row, k), MmaLayout.Bf16AOwnerElement(row, k)));
        }

        for (int col = 0; col < MmaLayout.N; col++)
        {
            for (int k = 0; k < MmaLayout.KTf32; k++)
                Assert.Equal((k, col), LibTf32B(MmaLayout.Tf32BOwnerLane(k, col), MmaLayout.Tf32BOwnerElement(k, col)));
            for (int k = 0; k < MmaLayout.KBf16; k++)
                Assert.Equal((k, col), LibBf16B(MmaLayout.Bf16BOwnerLane(k, col), MmaLayout.Bf16BOwnerElement(k, col)));
        }
    }

    [Fact]
    public void EmulatedMma_ReadsOperandsAtIndicesTheSameOnEveryLane()
    {
        // A warp shuffle moves one register index for all lanes: the element a lane asks its owner
        // for must not depend on the asking lane, only on k and on the half (rows 0-7 or 8-15).
        for (int k = 0; k < MmaLayout.KBf16; k++)
        {
            for (int half = 0; half < 2; half++)
            {
                var tf32A = Enumerable.Range(0, Lanes).Select(l => MmaLayout.Tf32AOwnerElement(MmaLayout.CRow(l, 2 * half), k % MmaLayout.KTf32)).Distinct();
                var bf16A = Enumerable.Range(0, Lanes).Select(l => MmaLayout.Bf16AOwnerElement(MmaLayout.CRow(l, 2 * half), k)).Distinct();
                var tf32B = Enumerable.Range(0, Lanes).Select(l => MmaLayout.Tf32BOwnerElement(k % MmaLayout.KTf32, MmaLayout.CCol(l, half))).Distinct();
                var bf16B = Enumerable.Range(0, Lanes).Select(l => MmaLayout.Bf16BOwnerElement(k, MmaLayout.CCol(l, half))).Distinct();
                Assert.Single(tf32A);
                Assert.Single(bf16A);
                Assert.Single(tf32B);
                Assert.Single(bf16B);
            }
        }
    }
}
