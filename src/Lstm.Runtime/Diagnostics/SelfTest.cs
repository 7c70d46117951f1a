using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;
using Lstm.Runtime.Backends.Reference;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Nn;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Diagnostics;

/// <summary>One check of a device against the float64 host reference.</summary>
/// <param name="Name">What was checked, with its shape.</param>
/// <param name="DType">float32 or float64.</param>
/// <param name="MaxAbsError">Largest absolute difference from the reference.</param>
/// <param name="Tolerance">The largest difference accepted.</param>
public sealed record SelfTestCheck(string Name, string DType, double MaxAbsError, double Tolerance)
{
    /// <summary>True when the error is within the tolerance (and not NaN).</summary>
    public bool Passed => MaxAbsError <= Tolerance;
}

/// <summary>
/// Runs the kernels on a device and compares them with their float64 references: GEMM with
/// <see cref="GemmReference"/> (every transpose, sizes of 1, odd sizes, sizes not multiples of the
/// tile), the fused cell forward and backward with <see cref="LstmCellReference"/>, and a whole
/// two-layer LSTM forward and backward with <see cref="LstmReference"/>, in float32 and float64.
/// </summary>
public static class SelfTest
{
    /// <summary>GEMM shapes checked: (M, N, K).</summary>
    public static readonly (int M, int N, int K)[] GemmShapes = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 13, 5), (17, 33, 19)];

    /// <summary>The worst check of each data type, relative to its tolerance, in the order the types first appear.</summary>
    /// <param name="checks">The checks of a <see cref="Run"/>.</param>
    public static IReadOnlyList<(string DType, SelfTestCheck Worst)> WorstByDType(IEnumerable<SelfTestCheck> checks) =>
        checks.GroupBy(c => c.DType).Select(g => (g.Key, g.MaxBy(c => c.MaxAbsError / c.Tolerance)!)).ToList();

    /// <summary>Runs every check on <paramref name="device"/>.</summary>
    /// <param name="device">The device to check.</param>
    /// <param name="seed">Seed of the random data.</param>
    public static IReadOnlyList<SelfTestCheck> Run(ComputeDevice device, int seed = 1234)
    {
        ArgumentNullException.ThrowIfNull(device);
        var checks = new List<SelfTestCheck>();
        checks.AddRange(RunTyped<float>(device, seed, 2e-5, 1e-5, 2e-5));
        checks.AddRange(RunTyped<double>(device, seed, 1e-12, 1e-12, 1e-12));
        return checks;
    }

    private static List<SelfTestCheck> RunTyped<T>(ComputeDevice device, int seed, double gemmTol, double cellTol, double lstmTol) where T : unmanaged
    {
        var rng = new Random(seed);
        var ops = device.Ops<T>();
        string dtype = Num<T>.DTypeName;
        var checks = new List<SelfTestCheck>();
        foreach (var (m, n, k) in GemmShapes)
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    var shape = GemmShape.Dense(m, n, k, ta, tb);
                    double err = CheckGemm(ops, rng, shape, 0.5, 0.25);
                    // Relative to K: each output sums K products of values in [-1, 1].
                    checks.Add(new SelfTestCheck($"gemm {m}x{n}x{k} {(ta ? "T" : "N")}{(tb ? "T" : "N")}", dtype, err, gemmTol * Math.Max(1, k)));
                }
            }
        }

        checks.AddRange(CheckCell(ops, rng, dtype, batch: 3, hidden: 7, cellTol));
        checks.AddRange(CheckLstm<T>(device, rng, dtype, lstmTol));
        return checks;
    }

    private static double[] Random(Random rng, int n, double scale = 1.0)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++)
            v[i] = (rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    private static T[] ToT<T>(double[] v) where T : unmanaged => v.Select(Num<T>.From).ToArray();

    private static double[] Rounded<T>(double[] v) where T : unmanaged => v.Select(d => Num<T>.ToDouble(Num<T>.From(d))).ToArray();

    private static DeviceBuffer<T> Upload<T>(IDeviceOps<T> ops, double[] v) where T : unmanaged
    {
        var buf = ops.Allocate(v.Length);
        ops.Upload(ToT<T>(v), buf.All);
        return buf;
    }

    private static double[] Download<T>(IDeviceOps<T> ops, DeviceBuffer<T> buf) where T : unmanaged
    {
        var host = new T[buf.Length];
        ops.Download(buf.All, host);
        return host.Select(Num<T>.ToDouble).ToArray();
    }

    private static double MaxAbs(double[] a, double[] b)
    {
        double e = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - b[i]);
            if (double.IsNaN(d))
                return double.NaN;
            e = Math.Max(e, d);
        }

        return e;
    }

    /// <summary>Checks one GEMM against the reference; returns the largest absolute error.</summary>
    internal static double CheckGemm<T>(IDeviceOps<T> ops, Random rng, GemmShape shape, double alpha, double beta) where T : unmanaged
    {
        int aLen = shape.TransA != 0 ? shape.K * shape.Lda : shape.M * shape.Lda;
        int bLen = shape.TransB != 0 ? shape.N * shape.Ldb : shape.K * shape.Ldb;
        var a = Rounded<T>(Random(rng, aLen));
        var b = Rounded<T>(Random(rng, bLen));
        var c = Rounded<T>(Random(rng, shape.M * shape.Ldc));
        using var da = Upload(ops, a);
        using var db = Upload(ops, b);
        using var dc = Upload(ops, c);
        ops.Gemm(shape, Num<T>.From(alpha), da.All, db.All, Num<T>.From(beta), dc.All);
        GemmReference.Gemm(shape, alpha, a, b, beta, c);
        return MaxAbs(Download(ops, dc), c);
    }

    private static List<SelfTestCheck> CheckCell<T>(IDeviceOps<T> ops, Random rng, string dtype, int batch, int hidden, double tol) where T : unmanaged
    {
        int g = 4 * hidden;
        int bh = batch * hidden;
        var xproj = Rounded<T>(Random(rng, batch * g, 3));
        var hproj = Rounded<T>(Random(rng, batch * g, 3));
        var bih = Rounded<T>(Random(rng, g));
        var bhh = Rounded<T>(Random(rng, g));
        var cPrev = Rounded<T>(Random(rng, bh, 2));
        var gates = new double[batch * g];
        for (int r = 0; r < batch; r++)
        {
            for (int q = 0; q < g; q++)
                gates[r * g + q] = xproj[r * g + q] + hproj[r * g + q] + bih[q] + bhh[q];
        }

        var c = new double[bh];
        var h = new double[bh];
        var acts = new double[batch * g];
        LstmCellReference.Forward(batch, hidden, gates, cPrev, c, h, acts);

        using var dx = Upload(ops, xproj);
        using var dh = Upload(ops, hproj);
        using var dbi = Upload(ops, bih);
        using var dbh = Upload(ops, bhh);
        using var dcp = Upload(ops, cPrev);
        using var dcOut = ops.Allocate(bh);
        using var dhOut = ops.Allocate(bh);
        using var dActs = ops.Allocate(batch * g);
        ops.LstmCellForward(batch, hidden, dx.All, dh.All, dbi.All, dbh.All, dcp.All, dcOut.All, dhOut.All, dActs.All);
        var fwdErr = Math.Max(MaxAbs(Download(ops, dcOut), c), Math.Max(MaxAbs(Download(ops, dhOut), h), MaxAbs(Download(ops, dActs), acts)));

        // Backward from the device's own activations, so only the backward kernel is measured.
        var actsDevice = Download(ops, dActs);
        var cDevice = Download(ops, dcOut);
        var dy = Rounded<T>(Random(rng, bh));
        var dhRec = Rounded<T>(Random(rng, bh));
        var dc = Rounded<T>(Random(rng, bh));
        var dhTotal = dy.Zip(dhRec, (p, q) => p + q).ToArray();
        var dcRef = (double[])dc.Clone();
        var dgRef = new double[batch * g];
        LstmCellReference.Backward(batch, hidden, dhTotal, dcRef, actsDevice, cDevice, cPrev, dgRef);
        using var ddy = Upload(ops, dy);
        using var ddh = Upload(ops, dhRec);
        using var ddc = Upload(ops, dc);
        using var ddg = ops.Allocate(batch * g);
        ops.LstmCellBackward(batch, hidden, ddy.All, ddh.All, ddc.All, dActs.All, dcOut.All, dcp.All, ddg.All);
        var bwdErr = Math.Max(MaxAbs(Download(ops, ddg), dgRef), MaxAbs(Download(ops, ddc), dcRef));
        return
        [
            new SelfTestCheck($"cell forward B={batch} H={hidden}", dtype, fwdErr, tol),
            new SelfTestCheck($"cell backward B={batch} H={hidden}", dtype, bwdErr, tol),
        ];
    }

    private static List<SelfTestCheck> CheckLstm<T>(ComputeDevice device, Random rng, string dtype, double tol) where T : unmanaged
    {
        const int I = 5, H = 6, L = 2, S = 4, B = 3;
        using var lstm = new LSTM<T>(device, new LSTMOptions(I, H, L), seed: rng.Next());
        var ps = lstm.Parameters().ToDictionary(p => p.Name, p => p.Value.ToArray().Select(Num<T>.ToDouble).ToArray());
        var x = Rounded<T>(Random(rng, S * B * I));
        var h0 = Rounded<T>(Random(rng, L * B * H));
        var c0 = Rounded<T>(Random(rng, L * B * H));
        var dy = Rounded<T>(Random(rng, S * B * H));
        var dhn = Rounded<T>(Random(rng, L * B * H));
        var dcn = Rounded<T>(Random(rng, L * B * H));
        var reference = LstmReference.Run(I, H, L, ps, x, h0, c0, S, B, dy, dhn, dcn);
        using var tx = Tensor<T>.FromArray(device, ToT<T>(x), S, B, I);
        using var th = Tensor<T>.FromArray(device, ToT<T>(h0), L, B, H);
        using var tc = Tensor<T>.FromArray(device, ToT<T>(c0), L, B, H);
        using var result = lstm.Forward(tx, th, tc, training: true);
        using var tdy = Tensor<T>.FromArray(device, ToT<T>(dy), S, B, H);
        using var tdh = Tensor<T>.FromArray(device, ToT<T>(dhn), L, B, H);
        using var tdc = Tensor<T>.FromArray(device, ToT<T>(dcn), L, B, H);
        using var grads = lstm.Backward(result, tdy, tdh, tdc);
        static double[] D(Tensor<T> t) => t.ToArray().Select(Num<T>.ToDouble).ToArray();
        double fwd = Math.Max(MaxAbs(D(result.Output), reference.Output), Math.Max(MaxAbs(D(result.HN), reference.HN), MaxAbs(D(result.CN), reference.CN)));
        double bwd = Math.Max(MaxAbs(D(grads.DX), reference.DX), Math.Max(MaxAbs(D(grads.DH0), reference.DH0), MaxAbs(D(grads.DC0), reference.DC0)));
        foreach (var p in lstm.Parameters())
            bwd = Math.Max(bwd, MaxAbs(D(p.Grad), reference.Grads[p.Name]));
        string shape = $"I={I} H={H} L={L} T={S} B={B}";
        return
        [
            new SelfTestCheck($"lstm forward {shape}", dtype, fwd, tol),
            new SelfTestCheck($"lstm backward {shape}", dtype, bwd, tol * 10),
        ];
    }
}
