using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using CommandLine;
using Lstm.Cli;

namespace Lstm.Cli.Tests;

/// <summary>The command line itself: help and version on stdout, unknown names reported first with a suggestion, verb types kept through trimming.</summary>
public sealed class ParserTests : CliRunner
{
    [Fact]
    public void Help_GoesToStdout_AndExitsZero()
    {
        var (code, stdout, stderr) = Run("--help");
        Assert.Equal(Program.Ok, code);
        Assert.Contains("train", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void VerbHelp_GoesToStdout_AndListsItsOptions()
    {
        var (code, stdout, stderr) = Run("train", "--help");
        Assert.Equal(Program.Ok, code);
        Assert.Contains("--hidden", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void Version_GoesToStdout_AndExitsZero()
    {
        var (code, stdout, stderr) = Run("--version");
        Assert.Equal(Program.Ok, code);
        Assert.Contains("lstm", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void UnknownOption_IsNamedFirst_WithTheNearestOption()
    {
        var (code, stdout, stderr) = Run("train", "--hiden", "8", "--out", "x");
        Assert.Equal(Program.BadInput, code);
        Assert.StartsWith("error: unknown option '--hiden'; did you mean '--hidden'?", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void UnknownOption_FarFromEveryName_HasNoSuggestion()
    {
        var (code, _, stderr) = Run("train", "--zzzzzzzz");
        Assert.Equal(Program.BadInput, code);
        Assert.StartsWith("error: unknown option '--zzzzzzzz'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("did you mean", stderr.Split('\n')[0], StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownVerb_IsNamedFirst_WithTheNearestVerb()
    {
        var (code, _, stderr) = Run("trian");
        Assert.Equal(Program.BadInput, code);
        Assert.StartsWith("error: unknown verb 'trian'; did you mean 'train'?", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryVerbType_IsParsed_AndKeptThroughTrimming()
    {
        var verbs = typeof(Program).Assembly.GetTypes().Where(t => t.GetCustomAttribute<VerbAttribute>() is not null).ToHashSet();
        Assert.Equal(verbs, Program.VerbTypes.ToHashSet());
        var run = typeof(Program).GetMethod(nameof(Program.Run), [typeof(string[]), typeof(TextWriter), typeof(TextWriter), typeof(CancellationToken)])!;
        var kept = run.GetCustomAttributes<DynamicDependencyAttribute>()
            .Where(a => a.MemberTypes == DynamicallyAccessedMemberTypes.All)
            .Select(a => a.Type)
            .ToHashSet();
        foreach (var verb in verbs)
        {
            // The verb type and every base type of this assembly that declares options.
            for (var t = verb; t is not null && t.Assembly == typeof(Program).Assembly; t = t.BaseType)
                Assert.True(kept.Contains(t), $"{t.Name} is not kept through trimming (DynamicDependency on Program.Run)");
        }
    }
}
