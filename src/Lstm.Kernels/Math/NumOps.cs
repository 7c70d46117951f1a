namespace Lstm.Kernels;

/// <summary>
/// Arithmetic on the element type of a kernel. Kernels are generic over <c>T</c> and a struct
/// implementing this interface, so ILGPU specializes one kernel body per element type
/// (float32 by default, float64 for finite-difference checks and the float64 golden cases).
/// </summary>
/// <remarks>
/// <see cref="ExpNonPositive"/>, <see cref="Sigmoid"/> and <see cref="Tanh"/> are the scalar forms
/// of <see cref="ExpNonPositiveOperator"/>, <see cref="SigmoidOperator"/> and
/// <see cref="TanhOperator"/>, whose vector forms the <c>cpu</c> backend uses: one definition for
/// every device.
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
    public float ExpNonPositive(float x) => ExpNonPositiveOperator.Invoke(x);

    /// <inheritdoc/>
    public float Sigmoid(float x) => SigmoidOperator.Invoke(x);

    /// <inheritdoc/>
    public float Tanh(float x) => TanhOperator.Invoke(x);
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
    public double ExpNonPositive(double x) => ExpNonPositiveOperator.Invoke(x);

    /// <inheritdoc/>
    public double Sigmoid(double x) => SigmoidOperator.Invoke(x);

    /// <inheritdoc/>
    public double Tanh(double x) => TanhOperator.Invoke(x);
}
