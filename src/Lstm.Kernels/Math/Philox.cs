namespace Lstm.Kernels;

/// <summary>Four 32-bit words: one Philox4x32 counter or output block.</summary>
/// <param name="X0">Word 0.</param>
/// <param name="X1">Word 1.</param>
/// <param name="X2">Word 2.</param>
/// <param name="X3">Word 3.</param>
internal readonly record struct PhiloxBlock(uint X0, uint X1, uint X2, uint X3);

/// <summary>
/// Philox4x32-10, the counter-based generator of Salmon et al. (Random123, SC'11): a pure
/// function of a 128-bit counter and a 64-bit key, so element i of a random tensor is computed
/// from i alone, on any device, in any order. Plain static functions on integers: the same code
/// runs inside ILGPU kernels and on the host, so host and device draw the same bits.
/// </summary>
/// <remarks>
/// <para>One round maps (c0, c1, c2, c3) with key (k0, k1) to
/// (hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0)), M0 = 0xD2511F53,
/// M1 = 0xCD9E8D57; ten rounds, the key bumped by (0x9E3779B9, 0xBB67AE85) between rounds.</para>
/// <para>Dropout's key (see <see cref="DropoutBits"/>): key = (seed low 32, seed high 32),
/// counter = (element index low 32, high 32, stream low 32, high 32); the element's draw is word 0
/// of the output.</para>
/// </remarks>
internal static class Philox
{
    private const uint M0 = 0xD2511F53u;
    private const uint M1 = 0xCD9E8D57u;
    private const uint W0 = 0x9E3779B9u;
    private const uint W1 = 0xBB67AE85u;

    /// <summary>Philox4x32 with 10 rounds: the output block for one counter and key.</summary>
    /// <param name="counter">The 128-bit counter.</param>
    /// <param name="key0">Key word 0.</param>
    /// <param name="key1">Key word 1.</param>
    public static PhiloxBlock Philox4x32x10(PhiloxBlock counter, uint key0, uint key1)
    {
        uint c0 = counter.X0, c1 = counter.X1, c2 = counter.X2, c3 = counter.X3;
        uint k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }

            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
        }

        return new PhiloxBlock(c0, c1, c2, c3);
    }

    /// <summary>
    /// The 32 random bits of one dropout element: word 0 of Philox4x32-10 with key = seed and
    /// counter = (index, stream), as the class remarks lay out.
    /// </summary>
    /// <param name="seed">The generator's seed (the key).</param>
    /// <param name="stream">Which independent stream (e.g. the layer index).</param>
    /// <param name="index">The element's index in its logical tensor.</param>
    public static uint DropoutBits(ulong seed, ulong stream, long index)
    {
        ulong i = (ulong)index;
        var block = Philox4x32x10(new PhiloxBlock((uint)i, (uint)(i >> 32), (uint)stream, (uint)(stream >> 32)), (uint)seed, (uint)(seed >> 32));
        return block.X0;
    }

    /// <summary>
    /// The integer threshold of a drop probability: an element is dropped when the top 24 bits of
    /// its draw, u = bits >> 8 (uniform on [0, 2^24)), are below ⌈p·2^24⌉, so it is kept with
    /// probability 1 − ⌈p·2^24⌉/2^24 (1 − p up to 2^-24; exactly 1 for p = 0).
    /// </summary>
    /// <param name="p">The drop probability, in [0, 1).</param>
    public static uint DropThreshold(double p) => (uint)Math.Ceiling(p * 16777216.0);

    /// <summary>Whether element <paramref name="index"/> is kept (see <see cref="DropThreshold"/>).</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="stream">The stream.</param>
    /// <param name="index">The element's index in its logical tensor.</param>
    /// <param name="threshold"><see cref="DropThreshold"/> of the drop probability.</param>
    public static bool Keep(ulong seed, ulong stream, long index, uint threshold) =>
        (DropoutBits(seed, stream, index) >> 8) >= threshold;
}
