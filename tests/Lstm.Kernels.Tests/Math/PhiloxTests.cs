namespace Lstm.Kernels.Tests;

public class PhiloxTests
{
    // Random123's known-answer vectors for Philox4x32-10 (its tests/kat_vectors): counter, key, output.
    public static IEnumerable<object[]> KnownAnswers() =>
    [
        [new uint[] { 0, 0, 0, 0 }, new uint[] { 0, 0 }, new uint[] { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }],
        [new uint[] { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff }, new uint[] { 0xffffffff, 0xffffffff }, new uint[] { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd }],
        [new uint[] { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 }, new uint[] { 0xa4093822, 0x299f31d0 }, new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 }],
    ];

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void Philox4x32x10_MatchesRandom123KnownAnswers(uint[] counter, uint[] key, uint[] expected)
    {
        var block = Philox.Philox4x32x10(new PhiloxBlock(counter[0], counter[1], counter[2], counter[3]), key[0], key[1]);
        Assert.Equal(expected, new[] { block.X0, block.X1, block.X2, block.X3 });
    }

    [Fact]
    public void DropoutBits_IsWordZeroOfTheDocumentedCounterAndKey()
    {
        ulong seed = 0x0123456789abcdefUL;
        ulong stream = 0xfedcba9876543210UL;
        long index = 0x1122334455667788L;
        var block = Philox.Philox4x32x10(new PhiloxBlock(0x55667788, 0x11223344, 0x76543210, 0xfedcba98), 0x89abcdef, 0x01234567);
        Assert.Equal(block.X0, Philox.DropoutBits(seed, stream, index));
    }

    [Fact]
    public void DropThreshold_ZeroKeepsEverything_AndRoundsUp()
    {
        Assert.Equal(0u, Philox.DropThreshold(0));
        Assert.Equal(1u << 23, Philox.DropThreshold(0.5));
        Assert.Equal(1u, Philox.DropThreshold(1e-12));
        for (long i = 0; i < 1000; i++)
            Assert.True(Philox.Keep(42, 0, i, 0));
    }

    [Fact]
    public void Keep_DrawsDifferentMasksForDifferentStreamsAndSeeds()
    {
        uint t = Philox.DropThreshold(0.5);
        int n = 4096;
        int sameStream = 0, sameSeed = 0;
        for (long i = 0; i < n; i++)
        {
            bool a = Philox.Keep(1, 0, i, t);
            if (a == Philox.Keep(1, 1, i, t))
                sameStream++;
            if (a == Philox.Keep(2, 0, i, t))
                sameSeed++;
        }

        // Independent masks agree on about half the elements (σ = 32 here).
        Assert.InRange(sameStream, n / 2 - 200, n / 2 + 200);
        Assert.InRange(sameSeed, n / 2 - 200, n / 2 + 200);
    }
}
