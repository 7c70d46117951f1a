using Lstm.Kernels.Gemm;
using Lstm.Runtime.Backends;

namespace Lstm.Tests.Shared;

/// <summary>One product on a device from host arrays: C = α·op(A)·op(B) + β·C, the result downloaded.</summary>
public static class DeviceGemm
{
    /// <summary>Uploads a, b and c, runs the device's GEMM and returns the new C.</summary>
    public static float[] Run(IDeviceOps<float> ops, GemmShape shape, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        using var da = ops.Allocate(a.Length);
        using var db = ops.Allocate(b.Length);
        using var dc = ops.Allocate(c.Length);
        ops.Upload(a, da.All);
        ops.Upload(b, db.All);
        ops.Upload(c, dc.All);
        ops.Gemm(shape, alpha, da.All, db.All, beta, dc.All);
        var result = new float[c.Length];
        ops.Download(dc.All, result);
        return result;
    }
}
