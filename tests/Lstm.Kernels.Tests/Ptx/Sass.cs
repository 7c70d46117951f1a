using System.Globalization;
using System.Text.RegularExpressions;

namespace Lstm.Kernels.Tests.Ptx;

/// <summary>One SASS instruction of a <c>cuobjdump -sass</c> listing.</summary>
/// <param name="Address">Its offset in the function.</param>
/// <param name="Predicate">Its guard (<c>@P0</c>, <c>@!P3</c>), or empty.</param>
/// <param name="Mnemonic">The opcode with its modifiers (<c>LDS.128</c>, <c>IMAD.MOV.U32</c>).</param>
/// <param name="Operands">The rest of the instruction.</param>
/// <param name="BranchTarget">The target of a <c>BRA</c>, or null.</param>
internal sealed record SassInstruction(long Address, string Predicate, string Mnemonic, string Operands, long? BranchTarget)
{
    /// <summary>The opcode without modifiers (<c>LDS</c>, <c>IMAD</c>).</summary>
    public string Opcode => Mnemonic.Split('.')[0];

    public bool IsNop => Opcode == "NOP";

    public bool IsFfma => Opcode is "FFMA" or "FFMA32I";

    /// <summary>A branch to itself or to an earlier instruction: the end of a loop (the self-branch ptxas puts after the last EXIT is none).</summary>
    public bool IsBackwardBranch => BranchTarget is long t && t < Address;
}

/// <summary>A loop of a SASS function: the instructions from a backward branch's target through the branch.</summary>
/// <param name="Start">The address of the loop's first instruction (the branch target).</param>
/// <param name="End">The address of the backward branch.</param>
/// <param name="Instructions">Its instructions, NOPs included.</param>
internal sealed record SassLoop(long Start, long End, IReadOnlyList<SassInstruction> Instructions)
{
    /// <summary>Its instructions other than NOPs: what the mix is a share of.</summary>
    public int Count => Instructions.Count(i => !i.IsNop);

    public int Ffma => Instructions.Count(i => i.IsFfma);

    /// <summary>FFMA over the instructions other than NOPs.</summary>
    public double FfmaShare => Count == 0 ? 0 : (double)Ffma / Count;

    /// <summary>How many of each opcode (NOPs left out), most first.</summary>
    public IReadOnlyList<(string Opcode, int Count)> Mix =>
        Instructions.Where(i => !i.IsNop).GroupBy(i => i.Opcode)
            .Select(g => (g.Key, g.Count())).OrderByDescending(p => p.Item2).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"hot loop 0x{Start:x4}-0x{End:x4}: {Count} instructions, {Ffma} FFMA ({FfmaShare:P1}); {string.Join(", ", Mix.Select(p => $"{p.Count} {p.Opcode}"))}");
}

/// <summary>A function of a SASS listing and the loops in it.</summary>
internal sealed partial record SassFunction(string Name, IReadOnlyList<SassInstruction> Instructions)
{
    /// <summary>
    /// The functions of a <c>cuobjdump -sass</c> listing (one <c>Function : NAME</c> header each,
    /// instructions as <c>/*0120*/  @P0 FFMA R9, R8, R9, R4 ;  /* 0x... */</c>).
    /// </summary>
    public static IReadOnlyList<SassFunction> Parse(string listing)
    {
        var functions = new List<SassFunction>();
        string? name = null;
        var instructions = new List<SassInstruction>();
        foreach (string line in listing.Split('\n'))
        {
            var header = FunctionLine().Match(line);
            if (header.Success)
            {
                if (name is not null)
                    functions.Add(new SassFunction(name, instructions));
                name = header.Groups["name"].Value;
                instructions = [];
                continue;
            }

            var m = InstructionLine().Match(line);
            if (!m.Success || name is null)
                continue;
            string mnemonic = m.Groups["op"].Value;
            string operands = m.Groups["args"].Value.Trim();
            long? target = null;
            if (mnemonic.Split('.')[0] == "BRA")
            {
                var t = BranchTargetText().Match(operands);
                if (t.Success)
                    target = long.Parse(t.Groups["addr"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }

            instructions.Add(new SassInstruction(Hex(m.Groups["addr"].Value), m.Groups["pred"].Value, mnemonic, operands, target));
        }

        if (name is not null)
            functions.Add(new SassFunction(name, instructions));
        return functions;
    }

    /// <summary>
    /// Every loop: for each backward-branch target, the instructions from it through the last
    /// branch back to it.
    /// </summary>
    public IReadOnlyList<SassLoop> Loops =>
        Instructions.Where(i => i.IsBackwardBranch)
            .GroupBy(i => i.BranchTarget!.Value)
            .Select(g => Loop(g.Key, g.Max(i => i.Address)))
            .OrderBy(l => l.Start).ToList();

    /// <summary>The loops that hold no other loop.</summary>
    public IReadOnlyList<SassLoop> InnermostLoops
    {
        get
        {
            var loops = Loops;
            return loops.Where(l => !loops.Any(o => (o.Start, o.End) != (l.Start, l.End) && o.Start >= l.Start && o.End <= l.End)).ToList();
        }
    }

    /// <summary>
    /// The hot loop: of the innermost loops, the one with the most instructions other than NOPs
    /// (the first of equals). Taking the largest passes over the short remainder loops ptxas adds
    /// after an unrolled one. Null for a function without loops.
    /// </summary>
    public SassLoop? HotLoop =>
        InnermostLoops.OrderByDescending(l => l.Count).ThenBy(l => l.Start).FirstOrDefault();

    private SassLoop Loop(long start, long end) =>
        new(start, end, Instructions.Where(i => i.Address >= start && i.Address <= end).ToList());

    private static long Hex(string s) => long.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s*Function\s*:\s*(?<name>\S+)\s*$")]
    private static partial Regex FunctionLine();

    [GeneratedRegex(@"^\s*/\*(?<addr>[0-9a-fA-F]+)\*/\s+(?:(?<pred>@!?U?P(?:T|\d+))\s+)?(?<op>[A-Z][A-Z0-9_.]*)(?<args>[^;]*);")]
    private static partial Regex InstructionLine();

    [GeneratedRegex(@"^0x(?<addr>[0-9a-fA-F]+)\b")]
    private static partial Regex BranchTargetText();
}
