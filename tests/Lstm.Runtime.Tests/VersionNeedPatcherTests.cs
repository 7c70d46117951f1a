using System.Buffers.Binary;
using System.Text;
using Lstm.Bench.ElfPatch;

namespace Lstm.Runtime.Tests;

/// <summary>bench/ElfPatch's one-flag patch, on small ELF64 files built here with the layout of a shared library's version needs.</summary>
public sealed class VersionNeedPatcherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lstm-elf-").FullName;

    /// <summary>
    /// An ELF64 little-endian file with sections [null, .dynstr, .gnu.version_r]: libstdc++.so.6
    /// needs GLIBCXX_3.4.30 and GLIBCXX_3.4.32, libc.so.6 needs GLIBC_2.34. Returns the file and
    /// the offset of each Vernaux's vna_flags by version name.
    /// </summary>
    private (string Path, Dictionary<string, int> FlagOffsets) WriteElf(ushort flags32 = 0)
    {
        var strings = new MemoryStream();
        var names = new Dictionary<string, int>();
        strings.WriteByte(0);
        foreach (var s in new[] { "libstdc++.so.6", "GLIBCXX_3.4.30", "GLIBCXX_3.4.32", "libc.so.6", "GLIBC_2.34" })
        {
            names[s] = (int)strings.Length;
            strings.Write(Encoding.ASCII.GetBytes(s));
            strings.WriteByte(0);
        }

        byte[] dynstr = strings.ToArray();
        int dynstrOffset = 64;
        int verneedOffset = (dynstrOffset + dynstr.Length + 7) & ~7;
        // Verneed libstdc++ (16) + 2 Vernaux (32) + Verneed libc (16) + 1 Vernaux (16).
        int verneedSize = 80;
        int shoff = verneedOffset + verneedSize;
        var elf = new byte[shoff + 3 * 64];
        var e = elf.AsSpan();
        e[0] = 0x7f;
        e[1] = (byte)'E';
        e[2] = (byte)'L';
        e[3] = (byte)'F';
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // ELFDATA2LSB
        e[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(e[0x10..], 3); // ET_DYN
        BinaryPrimitives.WriteUInt64LittleEndian(e[0x28..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(e[0x3a..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(e[0x3c..], 3);
        dynstr.CopyTo(e[dynstrOffset..]);

        var flagOffsets = new Dictionary<string, int>();
        void Need(int at, string file, int count, int next)
        {
            var s = elf.AsSpan();
            BinaryPrimitives.WriteUInt16LittleEndian(s[at..], 1);
            BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 2)..], (ushort)count);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], (uint)names[file]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 8)..], 16);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 12)..], (uint)next);
        }

        void Aux(int at, string version, ushort flags, ushort other, int next)
        {
            var s = elf.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s[at..], 0x0bad_cafe);
            BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 4)..], flags);
            BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 6)..], other);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 8)..], (uint)names[version]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 12)..], (uint)next);
            flagOffsets[version] = at + 4;
        }

        int v = verneedOffset;
        Need(v, "libstdc++.so.6", 2, 48);
        Aux(v + 16, "GLIBCXX_3.4.30", 0, 2, 16);
        Aux(v + 32, "GLIBCXX_3.4.32", flags32, 3, 0);
        Need(v + 48, "libc.so.6", 1, 0);
        Aux(v + 64, "GLIBC_2.34", 0, 4, 0);

        // Section 1: .dynstr (SHT_STRTAB); section 2: .gnu.version_r (SHT_GNU_verneed, link 1, info 2 entries).
        int sh1 = shoff + 64, sh2 = shoff + 128;
        BinaryPrimitives.WriteUInt32LittleEndian(e[(sh1 + 4)..], 3);
        BinaryPrimitives.WriteUInt64LittleEndian(e[(sh1 + 0x18)..], (ulong)dynstrOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(e[(sh1 + 0x20)..], (ulong)dynstr.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(e[(sh2 + 4)..], 0x6ffffffe);
        BinaryPrimitives.WriteUInt64LittleEndian(e[(sh2 + 0x18)..], (ulong)verneedOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(e[(sh2 + 0x20)..], (ulong)verneedSize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[(sh2 + 0x28)..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(e[(sh2 + 0x2c)..], 2);

        string path = Path.Combine(_dir, $"lib{Guid.NewGuid():N}.so");
        File.WriteAllBytes(path, elf);
        return (path, flagOffsets);
    }

    [Fact]
    public void MakeWeak_SetsTheWeakFlagOfThatVersionOnly()
    {
        var (path, offsets) = WriteElf();
        byte[] before = File.ReadAllBytes(path);

        Assert.Equal(PatchOutcome.Patched, VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32"));

        byte[] after = File.ReadAllBytes(path);
        Assert.Equal(before.Length, after.Length);
        int flags = offsets["GLIBCXX_3.4.32"];
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        Assert.Equal([flags], changed);
        Assert.Equal(VersionNeedPatcher.VerFlagWeak, BinaryPrimitives.ReadUInt16LittleEndian(after.AsSpan(flags)));
    }

    [Fact]
    public void MakeWeak_KeepsTheOtherFlagBits()
    {
        var (path, offsets) = WriteElf(flags32: 0x1);
        Assert.Equal(PatchOutcome.Patched, VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32"));
        Assert.Equal(0x3, BinaryPrimitives.ReadUInt16LittleEndian(File.ReadAllBytes(path).AsSpan(offsets["GLIBCXX_3.4.32"])));
    }

    [Fact]
    public void MakeWeak_SecondRun_ChangesNothing()
    {
        var (path, _) = WriteElf();
        VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32");
        byte[] once = File.ReadAllBytes(path);
        var written = File.GetLastWriteTimeUtc(path);
        Assert.Equal(PatchOutcome.AlreadyWeak, VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32"));
        Assert.Equal(once, File.ReadAllBytes(path));
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
    }

    [Theory]
    [InlineData("GLIBCXX_3.4.33")]
    [InlineData("GLIBCXX_3.4.3")]
    [InlineData("libc.so.6")]
    public void MakeWeak_VersionNotNeeded_LeavesTheFileAsItIs(string version)
    {
        var (path, _) = WriteElf();
        byte[] before = File.ReadAllBytes(path);
        Assert.Equal(PatchOutcome.NotNeeded, VersionNeedPatcher.MakeWeak(path, version));
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void MakeWeak_FindsAVersionOfTheSecondNeed()
    {
        var (path, offsets) = WriteElf();
        Assert.Equal(PatchOutcome.Patched, VersionNeedPatcher.MakeWeak(path, "GLIBC_2.34"));
        Assert.Equal(VersionNeedPatcher.VerFlagWeak, BinaryPrimitives.ReadUInt16LittleEndian(File.ReadAllBytes(path).AsSpan(offsets["GLIBC_2.34"])));
    }

    [Fact]
    public void MakeWeak_NotElf_ThrowsNamingTheFile()
    {
        string path = Path.Combine(_dir, "text.so");
        File.WriteAllText(path, new string('x', 100));
        var e = Assert.Throws<InvalidDataException>(() => VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32"));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MakeWeak_TruncatedSectionTable_ThrowsNamingTheFile()
    {
        var (path, _) = WriteElf();
        byte[] whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..^32]);
        var e = Assert.Throws<InvalidDataException>(() => VersionNeedPatcher.MakeWeak(path, "GLIBCXX_3.4.32"));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
