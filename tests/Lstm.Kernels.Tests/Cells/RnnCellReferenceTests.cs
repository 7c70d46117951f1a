using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>The plain RNN cell's float64 backward reference against finite differences of its forward reference.</summary>
public class RnnCellReferenceTests(ITestOutputHelper output) : CellGradientCheck(output)
{
    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void RnnCellBackward_MatchesFiniteDifferencesOfForward(bool relu, bool bias)
    {
        var rng = new Random(23);
        foreach (var (batch, hidden) in Sizes)
        {
            int bh = batch * hidden;
            var xproj = Numerics.Uniform(rng, bh, 2);
            var hproj = Numerics.Uniform(rng, bh, 2);
            var bih = bias ? Numerics.Uniform(rng, hidden) : [];
            var bhh = bias ? Numerics.Uniform(rng, hidden) : [];
            var dh = Numerics.Uniform(rng, bh);
            double Loss()
            {
                var h = new double[bh];
                RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bih, bhh, h);
                return h.Zip(dh, (a, b) => a * b).Sum();
            }

            var hOut = new double[bh];
            RnnCellReference.Forward(batch, hidden, relu, xproj, hproj, bih, bhh, hOut);
            var dg = new double[bh];
            RnnCellReference.Backward(batch, hidden, relu, dh, hOut, dg);
            string at = $"{(relu ? "relu" : "tanh")} B={batch} H={hidden} bias={bias}";
            AssertGradient(dg, xproj, Loss, $"d xproj {at}");
            AssertGradient(dg, hproj, Loss, $"d hproj {at}");
            if (bias)
            {
                AssertGradient(ColumnSums(dg, batch, hidden), bih, Loss, $"d b_ih {at}");
                AssertGradient(ColumnSums(dg, batch, hidden), bhh, Loss, $"d b_hh {at}");
            }
        }
    }
}
