using ILGPU;

namespace Lstm.Kernels;

/// <summary>
/// Arithmetic on the element type of a kernel. Kernels are generic over <c>T</c> and a struct
/// implementing this interface, so ILGPU specializes one kernel body per element type
/// (float32 by default, float64 for finite-difference checks and the float64 golden cases).
/// </summary>
/// <remarks>
/// <see cref="Sigmoid"/> and <see cref="Tanh"/> are the precise formulations: they are built from
/// <see cref="ExpNonPositive"/>, a range-reduced polynomial that uses only add, multiply and bit
/// operations, so every back end (CUDA, OpenCL, the CPU) computes the same function and no
/// approximate hardware instruction (<c>ex2.approx</c>, <c>tanh.approx</c>) is involved.
/// </remarks>
/// <typeparam name="T">The element type.</typeparam>
internal interface INumOps<T> where T : unmanaged
{
    /// <summary>0.</summary>
    T Zero { get; }

    /// <summary>1.</summary>
    T One { get; }

    /// <summary>a + b.</summary>
    T Add(T a, T b);

    /// <summary>a - b.</summary>
    T Sub(T a, T b);

    /// <summary>a · b.</summary>
    T Mul(T a, T b);

    /// <summary>a · b + c.</summary>
    T MulAdd(T a, T b, T c);

    /// <summary>a / b.</summary>
    T Div(T a, T b);

    /// <summary>-a.</summary>
    T Neg(T a);

    /// <summary>max(a, 0).</summary>
    T Relu(T a);

    /// <summary>a &gt; b.</summary>
    bool Greater(T a, T b);

    /// <summary>The value converted from float64.</summary>
    T FromDouble(double v);

    /// <summary>The value converted to float64.</summary>
    double ToDouble(T v);

    /// <summary>e^x for x ≤ 0 (x &gt; 0 is clamped to 0); underflows to 0.</summary>
    T ExpNonPositive(T x);

    /// <summary>σ(x) = 1 / (1 + e^-x), precise for every x.</summary>
    T Sigmoid(T x);

    /// <summary>tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|), precise for every x.</summary>
    T Tanh(T x);
}

/// <summary>float32 arithmetic for kernels.</summary>
internal readonly struct F32Ops : INumOps<float>
{
    /// <inheritdoc/>
    public float Zero => 0f;

    /// <inheritdoc/>
    public float One => 1f;

    /// <inheritdoc/>
    public float Add(float a, float b) => a + b;

    /// <inheritdoc/>
    public float Sub(float a, float b) => a - b;

    /// <inheritdoc/>
    public float Mul(float a, float b) => a * b;

    /// <inheritdoc/>
    public float MulAdd(float a, float b, float c) => a * b + c;

    /// <inheritdoc/>
    public float Div(float a, float b) => a / b;

    /// <inheritdoc/>
    public float Neg(float a) => -a;

    /// <inheritdoc/>
    public float Relu(float a) => a > 0f ? a : 0f;

    /// <inheritdoc/>
    public bool Greater(float a, float b) => a > b;

    /// <inheritdoc/>
    public float FromDouble(double v) => (float)v;

    /// <inheritdoc/>
    public double ToDouble(float v) => v;

    /// <inheritdoc/>
    public float ExpNonPositive(float x)
    {
        if (x < -87.3f)
            return 0f;
        if (x > 0f)
            x = 0f;
        // x = k ln2 + r, |r| <= ln2/2; ln2 split in a high part exact in float and a low part.
        int k = (int)(x * 1.44269504088896341f - 0.5f);
        float r = x - k * 0.693145751953125f - k * 1.42860682030941723212e-6f;
        // Taylor series of e^r to r^7: relative error < 6e-9 on |r| <= 0.347.
        float p = 1f / 5040f;
        p = p * r + 1f / 720f;
        p = p * r + 1f / 120f;
        p = p * r + 1f / 24f;
        p = p * r + 1f / 6f;
        p = p * r + 0.5f;
        p = p * r + 1f;
        p = p * r + 1f;
        // 2^k built from its exponent bits; k >= -126 here, a normal number.
        float scale = Interop.IntAsFloat((uint)((k + 127) << 23));
        return p * scale;
    }

    /// <inheritdoc/>
    public float Sigmoid(float x)
    {
        if (x >= 0f)
            return 1f / (1f + ExpNonPositive(-x));
        float e = ExpNonPositive(x);
        return e / (1f + e);
    }

    /// <inheritdoc/>
    public float Tanh(float x)
    {
        float ax = x < 0f ? -x : x;
        float e = ExpNonPositive(-2f * ax);
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }
}

/// <summary>float64 arithmetic for kernels.</summary>
internal readonly struct F64Ops : INumOps<double>
{
    /// <inheritdoc/>
    public double Zero => 0.0;

    /// <inheritdoc/>
    public double One => 1.0;

    /// <inheritdoc/>
    public double Add(double a, double b) => a + b;

    /// <inheritdoc/>
    public double Sub(double a, double b) => a - b;

    /// <inheritdoc/>
    public double Mul(double a, double b) => a * b;

    /// <inheritdoc/>
    public double MulAdd(double a, double b, double c) => a * b + c;

    /// <inheritdoc/>
    public double Div(double a, double b) => a / b;

    /// <inheritdoc/>
    public double Neg(double a) => -a;

    /// <inheritdoc/>
    public double Relu(double a) => a > 0.0 ? a : 0.0;

    /// <inheritdoc/>
    public bool Greater(double a, double b) => a > b;

    /// <inheritdoc/>
    public double FromDouble(double v) => v;

    /// <inheritdoc/>
    public double ToDouble(double v) => v;

    /// <inheritdoc/>
    public double ExpNonPositive(double x)
    {
        if (x < -708.0)
            return 0.0;
        if (x > 0.0)
            x = 0.0;
        long k = (long)(x * 1.4426950408889634074 - 0.5);
        // ln2 = hi + lo with hi's low 32 bits zero, so k·hi is exact.
        double r = x - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;
        // Taylor series of e^r to r^13: relative error < 1e-17 on |r| <= 0.347.
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        double scale = Interop.IntAsFloat((ulong)((k + 1023) << 52));
        return p * scale;
    }

    /// <inheritdoc/>
    public double Sigmoid(double x)
    {
        if (x >= 0.0)
            return 1.0 / (1.0 + ExpNonPositive(-x));
        double e = ExpNonPositive(x);
        return e / (1.0 + e);
    }

    /// <inheritdoc/>
    public double Tanh(double x)
    {
        double ax = x < 0.0 ? -x : x;
        double e = ExpNonPositive(-2.0 * ax);
        double t = (1.0 - e) / (1.0 + e);
        return x < 0.0 ? -t : t;
    }
}
