namespace Lstm.Runtime;

/// <summary>
/// The arithmetic of a float32 matrix product, as PyTorch's
/// <c>torch.backends.cuda.matmul.allow_tf32</c> and <c>torch.set_float32_matmul_precision</c>
/// choose it. Operands and results stay float32 in memory; only the products inside the GEMM
/// are formed at reduced precision, and they are always accumulated in float32.
/// </summary>
/// <remarks>
/// Rounding of one operand (relative): FP32 2^-24, TF32 2^-11, BF16 2^-8. 3xTF32 splits each
/// operand x into hi = TF32(x) and lo = TF32(x - hi) and forms a·b as
/// lo_a·hi_b + hi_a·lo_b + hi_a·hi_b (lo_a·lo_b, about 2^-22 of the product, is dropped), so it is
/// close to FP32 at three times the tensor-core work.
/// </remarks>
public enum GemmPrecision
{
    /// <summary>IEEE float32 products and sums (the default).</summary>
    Fp32 = 0,

    /// <summary>Both operands rounded to TF32 (10 stored mantissa bits, round to nearest, ties away from zero).</summary>
    Tf32 = 1,

    /// <summary>Each operand split into two TF32 parts; three of the four partial products summed.</summary>
    ThreeTf32 = 2,

    /// <summary>Both operands rounded to BF16 (7 stored mantissa bits, round to nearest even).</summary>
    Bf16 = 3,
}
