using Lstm.Kernels.Gemm;
using Lstm.Runtime;
using Lstm.Runtime.Backends;
using Lstm.Tests.Shared;

namespace Lstm.Kernels.Tests;

/// <summary>
/// Argument checks are made once, above every backend: the same bad call throws the same
/// <see cref="LstmException"/> with the same message on every device present.
/// </summary>
public class DeviceOpsCheckTests
{
    /// <summary>Bad calls, each with a part of the message every device must give.</summary>
    private static readonly (string Expected, Action<IDeviceOps<float>, BufferSlice<float>, BufferSlice<float>> Call)[] BadCalls =
    [
        ("gemm: B has 5 elements, the operation needs 6", (ops, big, small) => ops.Gemm(GemmShape.Dense(2, 2, 3, false, false), 1f, big, small, 0f, big)),
        ("gemm: negative size M=-1", (ops, big, small) => ops.Gemm(GemmShape.Dense(-1, 2, 3, false, false), 1f, big, big, 0f, big)),
        ("gemm rows: op(A) must be A", (ops, big, small) => ops.GemmRows(GemmShape.Dense(2, 2, 2, true, false), 4, 1f, big, big, 0f, big)),
        ("lstm_cell_forward: c_t [B, H] has 5 elements, the operation needs 6", (ops, big, small) => ops.LstmCellForward(2, 3, big, big, null, null, big, small, big, null)),
        ("gru_cell_forward: xproj [B, 3H] has 5 elements", (ops, big, small) => ops.GruCellForward(2, 3, small, big, null, null, big, big, null)),
        ("rnn_cell_backward: h_t [B, H] has 5 elements", (ops, big, small) => ops.RnnCellBackward(2, 3, false, big, big, small, big)),
        ("lstm_cell_backward: negative size B=-2, H=3", (ops, big, small) => ops.LstmCellBackward(-2, 3, big, big, big, big, big, big, big)),
        ("sum_rows: source has 5 elements, the operation needs 6", (ops, big, small) => ops.SumRows(2, 3, small, 0f, big)),
        ("add_row_bias: bias has 5 elements, the operation needs 6", (ops, big, small) => ops.AddRowBias(6, big, small)),
        ("axpy: x has 5 elements, the operation needs 64", (ops, big, small) => ops.Axpy(1f, small, big)),
        ("SGD update: parameter of 64 elements, gradient of 5", (ops, big, small) => ops.SgdUpdate(big, small, null, 0.1f, 0, 0, 0, false, false)),
        ("MSE loss over [2, 3]: input of 5 elements", (ops, big, small) => ops.MseLoss(2, 3, small, small, null, 1f, small, small)),
        ("dropout probability 1 is outside [0, 1)", (ops, big, small) => ops.Dropout(1, 0, 0, 1f, big, big)),
        ("embedding gather: table [2, 3] of 5 elements", (ops, big, small) => ops.EmbeddingGather(2, 3, small, small, big)),
        ("masked softmax: [2, 3] input has 5 elements, the operation needs 6", (ops, big, small) => ops.MaskedSoftmax(2, 3, small, big, big)),
        ("additive scores: k [B·S, A] has 5 elements, the operation needs 6", (ops, big, small) => ops.AdditiveScores(1, 2, 2, 3, big, small, big, big)),
        ("mask rows: 64 elements are not rows of 5 columns", (ops, big, small) => ops.MaskRows(5, big, big)),
        ("batched gemm: C stride 3 is shorter than one product's C (4 elements)", (ops, big, small) => ops.BatchedGemm(2, GemmShape.Dense(2, 2, 2, false, false), 4, 4, 3, 1f, big, big, 0f, big)),
        ("batched gemm: B has 5 elements, the operation needs 8", (ops, big, small) => ops.BatchedGemm(2, GemmShape.Dense(2, 2, 2, false, false), 4, 4, 4, 1f, big, small, 0f, big)),
    ];

    [Fact]
    public void BadCalls_ThrowTheSameMessageOnEveryDevice()
    {
        var devices = TestDevices.Names().Select(n => (string)n[0]).ToList();
        Assert.Contains("cpu", devices);
        Assert.Contains("ilgpu-cpu", devices);
        foreach (var (expected, call) in BadCalls)
        {
            string? first = null;
            foreach (string name in devices)
            {
                var ops = TestDevices.Get(name).Ops<float>();
                using var big = ops.Allocate(64);
                using var small = ops.Allocate(5);
                var e = Assert.Throws<LstmException>(() => call(ops, big.All, small.All));
                Assert.Contains(expected, e.Message, StringComparison.Ordinal);
                first ??= e.Message;
                Assert.Equal(first, e.Message);
            }
        }
    }
}
