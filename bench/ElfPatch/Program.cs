using Lstm.Bench.ElfPatch;


// ElfPatch LIBRARY VERSION: marks LIBRARY's need of symbol version VERSION weak (see VersionNeedPatcher).
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: ElfPatch LIBRARY.so VERSION   (e.g. libLibTorchSharp.so GLIBCXX_3.4.32)");
    return 2;
}

if (!File.Exists(args[0]))
{
    Console.Error.WriteLine($"ElfPatch: {args[0]}: no such file");
    return 2;
}

try
{
    var outcome = VersionNeedPatcher.MakeWeak(args[0], args[1]);
    Console.WriteLine($"ElfPatch: {Path.GetFileName(args[0])} {args[1]}: {outcome switch
    {
        PatchOutcome.Patched => "version need marked weak",
        PatchOutcome.AlreadyWeak => "already weak",
        _ => "not needed, left as is",
    }}");
    return 0;
}
catch (InvalidDataException e)
{
    Console.Error.WriteLine($"ElfPatch: {e.Message}");
    return 1;
}
