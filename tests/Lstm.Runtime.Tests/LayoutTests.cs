using System.Text.RegularExpressions;

namespace Lstm.Runtime.Tests;

/// <summary>
/// The source layout that docs/architecture.md draws: namespaces depend only on the ones below
/// them (so there is no cycle), and no hand-written source file grows past the size a reader
/// takes in at once. Both are read from the sources under src/: <c>using Lstm…;</c> lines,
/// fully qualified <c>Lstm.X.Y.Z</c> names and <c>cref</c>s (a documentation reference is a use too).
/// </summary>
public sealed partial class LayoutTests
{
    /// <summary>
    /// The layers, lowest first. A namespace may use its own layer's parents and any namespace of
    /// a lower layer; namespaces on one line are siblings and may not use each other.
    /// </summary>
    private static readonly string[][] Layers =
    [
        ["Lstm.Kernels"],
        ["Lstm.Kernels.Gemm", "Lstm.Kernels.Cells"],
        ["Lstm.Runtime"],
        ["Lstm.Runtime.Backends"],
        ["Lstm.Runtime.Backends.Cpu", "Lstm.Runtime.Backends.Ilgpu", "Lstm.Runtime.Backends.Reference"],
        ["Lstm.Runtime.Devices"],
        ["Lstm.Runtime.Tensors"],
        ["Lstm.Runtime.Scheduling", "Lstm.Runtime.Data"],
        ["Lstm.Runtime.Recurrent"],
        ["Lstm.Runtime.Nn"],
        ["Lstm.Runtime.Persistence"],
        ["Lstm.Runtime.Models"],
        ["Lstm.Runtime.Training"],
        ["Lstm.Runtime.Diagnostics"],
        ["Lstm.Cli"],
    ];

    /// <summary>Lines a hand-written source file may have; generated files (*.Generated.cs) are exempt.</summary>
    private const int MaxLines = 500;

    [Fact]
    public void Namespaces_DependOnlyOnLowerLayers()
    {
        var layer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Layers.Length; i++)
        {
            foreach (var ns in Layers[i])
                layer[ns] = i;
        }

        var wrong = new List<string>();
        foreach (var (file, ns, text) in Sources())
        {
            if (!layer.TryGetValue(ns, out int own))
            {
                wrong.Add($"{file}: namespace {ns} has no place in the layer order of {nameof(LayoutTests)}");
                continue;
            }

            foreach (var name in Uses(text))
            {
                // Lstm.Runtime.Nn.RnnNonlinearity.Relu: the namespace is the longest known prefix.
                string used = name;
                while (!layer.ContainsKey(used) && used.LastIndexOf('.') is int dot and > 0)
                    used = used[..dot];
                if (used == ns || ns.StartsWith(used + ".", StringComparison.Ordinal) || !layer.TryGetValue(used, out int other))
                    continue;
                if (other >= own)
                    wrong.Add($"{file}: {ns} uses {used}, which is {(other == own ? "its sibling" : "above it")}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join(Environment.NewLine, wrong));
    }

    [Fact]
    public void SourceFiles_AreAtMost500Lines()
    {
        var src = Path.Combine(RepoRoot(), "src");
        var tooLong = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !IsBuildOutput(f) && !f.EndsWith(".Generated.cs", StringComparison.Ordinal))
            .Select(f => (File: Path.GetRelativePath(src, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > MaxLines)
            .Select(f => $"{f.File}: {f.Lines} lines")
            .ToList();
        Assert.True(tooLong.Count == 0, string.Join(Environment.NewLine, tooLong));
    }

    [Fact]
    public void LayerOrder_NamesEveryNamespaceOnce()
    {
        var named = Layers.SelectMany(l => l).ToList();
        Assert.Equal(named.Count, named.Distinct(StringComparer.Ordinal).Count());
        var declared = Sources().Select(s => s.Namespace).ToHashSet(StringComparer.Ordinal);
        var missing = named.Where(n => !declared.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"named in the layer order but declared nowhere: {string.Join(", ", missing)}");
    }

    private static IEnumerable<string> Uses(string text)
    {
        foreach (Match m in UsingLine().Matches(text))
            yield return m.Groups[1].Value;
        foreach (Match m in QualifiedName().Matches(text))
            yield return m.Groups[1].Value;
    }

    private static IEnumerable<(string File, string Namespace, string Text)> Sources()
    {
        var src = Path.Combine(RepoRoot(), "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (IsBuildOutput(file))
                continue;
            string text = File.ReadAllText(file);
            var m = NamespaceLine().Match(text);
            if (m.Success)
                yield return (Path.GetRelativePath(src, file), m.Groups[1].Value, text);
        }
    }

    private static bool IsBuildOutput(string path) =>
        path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
        || path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal);

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IlgpuLstm.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException($"no IlgpuLstm.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    [GeneratedRegex(@"^\s*using\s+(?:static\s+)?(Lstm[\w.]*)\s*;", RegexOptions.Multiline)]
    private static partial Regex UsingLine();

    /// <summary>Lstm.A.B.Type: the namespace part of a fully qualified name, in code or a cref.</summary>
    [GeneratedRegex(@"\b(Lstm\.(?:Runtime|Kernels|Cli)(?:\.[A-Z]\w*)*)\.[A-Z]\w*\b")]
    private static partial Regex QualifiedName();
}
