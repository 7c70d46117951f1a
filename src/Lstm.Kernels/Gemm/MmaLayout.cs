namespace Lstm.Kernels.Gemm;

/// <summary>
/// Where each lane of a warp holds the elements of the operands of PTX's warp-level
/// <c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c> and
/// <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c> (PTX ISA, "Matrix Fragments for
/// mma.m16n8k8" and "mma.m16n8k16 with floating point type").
/// </summary>
/// <remarks>
/// <para>D[16, 8] = A[16, K]·B[K, 8] + C[16, 8], K = 8 (TF32) or 16 (BF16). With
/// g = lane / 4 (groupID) and t = lane % 4 (threadID_in_group):</para>
/// <list type="bullet">
/// <item>TF32 A, elements a0..a3 in four .b32 registers: row g + 8·(i % 2), column t + 4·(i / 2).</item>
/// <item>TF32 B, b0..b1 in two registers: row t + 4·i, column g.</item>
/// <item>BF16 A, a0..a7, two to a register (a(2r) in the low half of register r): row g + 8·((i / 2) % 2),
/// column 2t + i % 2 + 8·(i / 4).</item>
/// <item>BF16 B, b0..b3, two to a register: row 2t + i % 2 + 8·(i / 2), column g.</item>
/// <item>C and D, c0..c3 (.f32, both shapes): row g + 8·(i / 2), column 2t + i % 2.</item>
/// </list>
/// <para>The <c>*Owner*</c> functions are the inverse maps (which lane and which element hold a
/// given row and column); the tensor-core kernels' emulated mma uses them to fetch operands from
/// other lanes. These functions are the only place the layouts are written down: the kernels
/// index their fragments through them and the tests check them against the ISA's formulas.</para>
/// </remarks>
internal static class MmaLayout
{
    /// <summary>Rows of A, C and D.</summary>
    public const int M = 16;

    /// <summary>Columns of B, C and D.</summary>
    public const int N = 8;

    /// <summary>The inner dimension of the TF32 shape (m16n8k8).</summary>
    public const int KTf32 = 8;

    /// <summary>The inner dimension of the BF16 shape (m16n8k16).</summary>
    public const int KBf16 = 16;

    /// <summary>Row of TF32 A element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Tf32ARow(int lane, int i) => (lane >> 2) + 8 * (i & 1);

    /// <summary>Column (k) of TF32 A element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Tf32ACol(int lane, int i) => (lane & 3) + 4 * (i >> 1);

    /// <summary>Row (k) of TF32 B element <paramref name="i"/> (0..1) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Tf32BRow(int lane, int i) => (lane & 3) + 4 * i;

    /// <summary>Column of TF32 B element <paramref name="i"/> (0..1) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Tf32BCol(int lane, int i) => lane >> 2;

    /// <summary>Row of BF16 A element <paramref name="i"/> (0..7) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Bf16ARow(int lane, int i) => (lane >> 2) + 8 * ((i >> 1) & 1);

    /// <summary>Column (k) of BF16 A element <paramref name="i"/> (0..7) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Bf16ACol(int lane, int i) => 2 * (lane & 3) + (i & 1) + 8 * (i >> 2);

    /// <summary>Row (k) of BF16 B element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Bf16BRow(int lane, int i) => 2 * (lane & 3) + (i & 1) + 8 * (i >> 1);

    /// <summary>Column of BF16 B element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int Bf16BCol(int lane, int i) => lane >> 2;

    /// <summary>Row of accumulator element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int CRow(int lane, int i) => (lane >> 2) + 8 * (i >> 1);

    /// <summary>Column of accumulator element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane, 0..31.</param>
    /// <param name="i">The element.</param>
    public static int CCol(int lane, int i) => 2 * (lane & 3) + (i & 1);

    /// <summary>The lane that holds TF32 A[row, k].</summary>
    /// <param name="row">0..15.</param>
    /// <param name="k">0..7.</param>
    public static int Tf32AOwnerLane(int row, int k) => 4 * (row & 7) + (k & 3);

    /// <summary>The element index (0..3) of TF32 A[row, k] in its lane.</summary>
    /// <param name="row">0..15.</param>
    /// <param name="k">0..7.</param>
    public static int Tf32AOwnerElement(int row, int k) => (row >> 3) + 2 * (k >> 2);

    /// <summary>The lane that holds TF32 B[k, col].</summary>
    /// <param name="k">0..7.</param>
    /// <param name="col">0..7.</param>
    public static int Tf32BOwnerLane(int k, int col) => 4 * col + (k & 3);

    /// <summary>The element index (0..1) of TF32 B[k, col] in its lane.</summary>
    /// <param name="k">0..7.</param>
    /// <param name="col">0..7.</param>
    public static int Tf32BOwnerElement(int k, int col) => k >> 2;

    /// <summary>The lane that holds BF16 A[row, k].</summary>
    /// <param name="row">0..15.</param>
    /// <param name="k">0..15.</param>
    public static int Bf16AOwnerLane(int row, int k) => 4 * (row & 7) + ((k & 7) >> 1);

    /// <summary>The element index (0..7) of BF16 A[row, k] in its lane.</summary>
    /// <param name="row">0..15.</param>
    /// <param name="k">0..15.</param>
    public static int Bf16AOwnerElement(int row, int k) => (k & 1) + 2 * (row >> 3) + 4 * (k >> 3);

    /// <summary>The lane that holds BF16 B[k, col].</summary>
    /// <param name="k">0..15.</param>
    /// <param name="col">0..7.</param>
    public static int Bf16BOwnerLane(int k, int col) => 4 * col + ((k & 7) >> 1);

    /// <summary>The element index (0..3) of BF16 B[k, col] in its lane.</summary>
    /// <param name="k">0..15.</param>
    /// <param name="col">0..7.</param>
    public static int Bf16BOwnerElement(int k, int col) => (k & 1) + 2 * (k >> 3);
}
