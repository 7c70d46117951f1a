using Lstm.Runtime.Backends.Reference;
using Lstm.Tests.Shared;
using Xunit.Abstractions;

namespace Lstm.Kernels.Tests.Cells;

/// <summary>The GRU cell's float64 backward reference against finite differences of its forward reference.</summary>
public class GruCellReferenceTests(ITestOutputHelper output) : CellGradientCheck(output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GruCellBackward_MatchesFiniteDifferencesOfForward(bool bias)
    {
        var rng = new Random(21);
        foreach (var (batch, hidden) in Sizes)
        {
            int g = 3 * hidden;
            int bh = batch * hidden;
            var xproj = Numerics.Uniform(rng, batch * g, 2);
            var hproj = Numerics.Uniform(rng, batch * g, 2);
            var bih = bias ? Numerics.Uniform(rng, g) : [];
            var bhh = bias ? Numerics.Uniform(rng, g) : [];
            var hPrev = Numerics.Uniform(rng, bh);
            var dh = Numerics.Uniform(rng, bh);
            double Loss()
            {
                var h = new double[bh];
                GruCellReference.Forward(batch, hidden, xproj, hproj, bih, bhh, hPrev, h, []);
                return h.Zip(dh, (a, b) => a * b).Sum();
            }

            var acts = new double[batch * 4 * hidden];
            GruCellReference.Forward(batch, hidden, xproj, hproj, bih, bhh, hPrev, new double[bh], acts);
            var dgX = new double[batch * g];
            var dgH = new double[batch * g];
            var dPrev = new double[bh];
            GruCellReference.Backward(batch, hidden, dh, acts, hPrev, dgX, dgH, dPrev);
            string at = $"B={batch} H={hidden} bias={bias}";
            AssertGradient(dgX, xproj, Loss, $"d xproj {at}");
            AssertGradient(dgH, hproj, Loss, $"d hproj {at}");
            AssertGradient(dPrev, hPrev, Loss, $"d h_(t-1) direct {at}");
            if (bias)
            {
                AssertGradient(ColumnSums(dgX, batch, g), bih, Loss, $"d b_ih {at}");
                AssertGradient(ColumnSums(dgH, batch, g), bhh, Loss, $"d b_hh {at}");
            }
        }
    }
}
