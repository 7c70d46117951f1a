using System.Buffers.Binary;
using System.Text;

namespace Lstm.Bench.ElfPatch;

/// <summary>What <see cref="VersionNeedPatcher.MakeWeak"/> did.</summary>
public enum PatchOutcome
{
    /// <summary>The flag was clear and is now set.</summary>
    Patched,

    /// <summary>The flag was already set: the file was not written.</summary>
    AlreadyWeak,

    /// <summary>The library does not need that version: the file was not written.</summary>
    NotNeeded,
}

/// <summary>
/// Sets VER_FLG_WEAK in the <c>vna_flags</c> of one <c>Vernaux</c> entry of an ELF64
/// little-endian shared library's <c>.gnu.version_r</c> section, and touches nothing else.
/// </summary>
/// <remarks>
/// Why: TorchSharp's <c>libLibTorchSharp.so</c> is linked against GCC 13's libstdc++ and needs
/// the version GLIBCXX_3.4.32, which older distributions (Debian 12: 3.4.30) lack, so the
/// dynamic loader refuses it. The only symbol bound to that version,
/// <c>std::ios_base_library_init()</c>, is never called. A weak version need is one the loader
/// may find missing without failing (glibc's <c>_dl_check_map_versions</c> only warns), so
/// setting that one flag lets the library load while every other version check stays in force.
/// Layouts (System V gABI, "Symbol Versioning"):
/// <code>
/// Elf64_Verneed { u16 vn_version; u16 vn_cnt; u32 vn_file; u32 vn_aux; u32 vn_next; }   // 16 bytes
/// Elf64_Vernaux { u32 vna_hash; u16 vna_flags; u16 vna_other; u32 vna_name; u32 vna_next; } // 16 bytes
/// </code>
/// Offsets <c>vn_aux</c>, <c>vn_next</c>, <c>vna_next</c> are relative to the entry that holds
/// them; names are offsets into the string table the section's <c>sh_link</c> names.
/// Idempotent: a second run finds the flag set and writes nothing.
/// </remarks>
public static class VersionNeedPatcher
{
    /// <summary>VER_FLG_WEAK: a reference to this version may be missing.</summary>
    public const ushort VerFlagWeak = 0x2;

    private const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>Marks the need of <paramref name="version"/> weak in the file at <paramref name="path"/>.</summary>
    /// <param name="path">An ELF64 little-endian shared library.</param>
    /// <param name="version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
    /// <exception cref="InvalidDataException">The file is not an ELF64 little-endian object, or its tables are out of bounds.</exception>
    public static PatchOutcome MakeWeak(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        long flagsOffset = FindVernauxFlags(elf, version, path);
        if (flagsOffset < 0)
            return PatchOutcome.NotNeeded;
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)flagsOffset, 2));
        if ((flags & VerFlagWeak) != 0)
            return PatchOutcome.AlreadyWeak;

        // Write the two bytes in place: the rest of the file stays byte-for-byte as it was.
        Span<byte> patched = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(patched, (ushort)(flags | VerFlagWeak));
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None))
        {
            file.Position = flagsOffset;
            file.Write(patched);
        }

        return PatchOutcome.Patched;
    }

    /// <summary>The file offset of the <c>vna_flags</c> of <paramref name="version"/>'s Vernaux entry, or -1 when the file does not need it.</summary>
    private static long FindVernauxFlags(byte[] elf, string version, string path)
    {
        var span = elf.AsSpan();
        if (elf.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file");
        if (span[4] != 2 || span[5] != 1)
            throw new InvalidDataException($"{path}: not a 64-bit little-endian ELF file (class {span[4]}, data {span[5]})");

        ulong shoff = U64(span, 0x28, path);
        ushort shentsize = U16(span, 0x3a, path);
        ushort shnum = U16(span, 0x3c, path);
        if (shentsize < 64)
            throw new InvalidDataException($"{path}: section header size {shentsize} is smaller than Elf64_Shdr");
        for (int s = 0; s < shnum; s++)
        {
            long sh = Checked((long)shoff + (long)s * shentsize, 64, elf.Length, path);
            if (U32(span, sh + 4, path) != ShtGnuVerneed)
                continue;
            long offset = (long)U64(span, sh + 0x18, path);
            long size = (long)U64(span, sh + 0x20, path);
            uint link = U32(span, sh + 0x28, path);
            uint count = U32(span, sh + 0x2c, path); // sh_info: number of Verneed entries
            Checked(offset, size, elf.Length, path);
            long strSh = Checked((long)shoff + (long)link * shentsize, 64, elf.Length, path);
            long strOffset = (long)U64(span, strSh + 0x18, path);
            long strSize = (long)U64(span, strSh + 0x20, path);
            Checked(strOffset, strSize, elf.Length, path);

            long need = offset;
            for (uint n = 0; n < count; n++)
            {
                Checked(need, 16, offset + size, path);
                ushort auxCount = U16(span, need + 2, path);
                long aux = need + U32(span, need + 8, path);
                for (int a = 0; a < auxCount; a++)
                {
                    Checked(aux, 16, offset + size, path);
                    uint name = U32(span, aux + 8, path);
                    if (name < strSize && NameAt(span, strOffset + name, strOffset + strSize) == version)
                        return aux + 4;
                    aux += U32(span, aux + 12, path);
                }

                uint next = U32(span, need + 12, path);
                if (next == 0)
                    break;
                need += next;
            }
        }

        return -1;
    }

    private static string NameAt(ReadOnlySpan<byte> elf, long start, long end)
    {
        var rest = elf[(int)start..(int)end];
        int zero = rest.IndexOf((byte)0);
        return Encoding.ASCII.GetString(zero < 0 ? rest : rest[..zero]);
    }

    private static long Checked(long offset, long length, long limit, string path)
    {
        if (offset < 0 || length < 0 || offset + length > limit)
            throw new InvalidDataException($"{path}: ELF table at offset {offset} (+{length}) runs past {limit}");
        return offset;
    }

    private static ushort U16(ReadOnlySpan<byte> b, long at, string path) =>
        BinaryPrimitives.ReadUInt16LittleEndian(b.Slice((int)Checked(at, 2, b.Length, path), 2));

    private static uint U32(ReadOnlySpan<byte> b, long at, string path) =>
        BinaryPrimitives.ReadUInt32LittleEndian(b.Slice((int)Checked(at, 4, b.Length, path), 4));

    private static ulong U64(ReadOnlySpan<byte> b, long at, string path) =>
        BinaryPrimitives.ReadUInt64LittleEndian(b.Slice((int)Checked(at, 8, b.Length, path), 8));
}
