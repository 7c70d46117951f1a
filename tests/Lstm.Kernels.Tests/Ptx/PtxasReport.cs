using System.Globalization;
using System.Text.RegularExpressions;

namespace Lstm.Kernels.Tests.Ptx;

/// <summary>What <c>ptxas -v</c> says of one PTX module: registers a thread, spills, stack, static shared memory.</summary>
/// <param name="Registers">Registers a thread of the entry point (the most over the entries).</param>
/// <param name="SpillStores">Bytes of spill stores, over every function of the module.</param>
/// <param name="SpillLoads">Bytes of spill loads, over every function of the module.</param>
/// <param name="StackFrame">The largest stack frame in bytes.</param>
/// <param name="SharedBytes">Static shared memory in bytes (dynamic shared memory is sized at launch and not counted).</param>
internal sealed partial record PtxasReport(int Registers, int SpillStores, int SpillLoads, int StackFrame, int SharedBytes)
{
    public bool Spills => SpillStores > 0 || SpillLoads > 0;

    public override string ToString() =>
        $"{Registers} regs, spill {SpillStores}/{SpillLoads} B, stack {StackFrame} B, smem {SharedBytes} B";

    /// <summary>Reads the info lines of <c>ptxas -v</c>.</summary>
    public static PtxasReport Parse(string text)
    {
        var used = UsedLine().Matches(text);
        if (used.Count == 0)
            throw new FormatException("no 'Used N registers' line in ptxas's output:\n" + text);
        int registers = used.Max(m => Int(m.Groups["regs"]));
        int shared = used.Max(m => m.Groups["smem"].Success ? Int(m.Groups["smem"]) : 0);
        int stores = 0, loads = 0, stack = 0;
        foreach (Match m in PropertiesLine().Matches(text))
        {
            stack = Math.Max(stack, Int(m.Groups["stack"]));
            stores += Int(m.Groups["stores"]);
            loads += Int(m.Groups["loads"]);
        }

        return new PtxasReport(registers, stores, loads, stack, shared);
    }

    private static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Used (?<regs>\d+) registers(?:, (?:\d+ bytes (?:gmem|cmem\[\d+\])|(?<smem>\d+) bytes smem))*")]
    private static partial Regex UsedLine();

    [GeneratedRegex(@"(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex PropertiesLine();
}
